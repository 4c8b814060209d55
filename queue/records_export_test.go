package queue

import "context"

// HoldClaimLock takes q's producer claim lock and keeps it, for the test of
// a producer killed while it holds the lock.
func HoldClaimLock(q *Queue) error { return q.q.lockClaim(context.Background()) }

// PeerExitSeen reports whether p's receive ring's peer watch has seen its
// peer exit, after any exit callback still running has returned (it takes
// the watch's lock, which the callback holds throughout).
func PeerExitSeen(p *Pipe) bool {
	pw := &p.recv.peer
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.dead.Load()
}
