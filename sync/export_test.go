package sync

import (
	"context"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
)

// Naps reports how many sleeps of this process ran out their timeout.
func Naps() uint64 { return futex.Naps() }

var errDeadline = context.DeadlineExceeded

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// SetRLockHook makes every RLock of this process call f inside its fast
// path, after its first counting step (nil: none).
func SetRLockHook(f func()) { rlockHook = f }
