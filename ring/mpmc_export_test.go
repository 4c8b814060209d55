package ring

// SetMPMCTestHooks sets functions that run inside an MPMC put between claim
// and publication, and inside a get between claim and release (nil: none).
// Only crash tests use them, in a child that is about to be killed.
func SetMPMCTestHooks(afterPushClaim, afterPopClaim func()) {
	testHookAfterClaim, testHookAfterPopClaim = afterPushClaim, afterPopClaim
}
