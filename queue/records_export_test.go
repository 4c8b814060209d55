package queue

import "context"

// HoldClaimLock takes q's producer claim lock and keeps it, for the test of
// a producer killed while it holds the lock.
func HoldClaimLock(q *Queue) error { return q.q.lockClaim(context.Background()) }
