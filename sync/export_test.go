package sync

import (
	"context"
	"time"
)

// Naps reports how many sleeps of this process ran out their timeout.
func Naps() uint64 { return naps.Load() }

var errDeadline = context.DeadlineExceeded

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
