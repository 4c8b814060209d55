package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/spawn"
)

// queueSentinels are every sentinel of package queue, in a fixed order that
// parent and child share.
var queueSentinels = []error{
	queue.ErrClosed, queue.ErrFull, queue.ErrEmpty, queue.ErrTooLarge, queue.ErrCorrupt, queue.ErrCapacity,
	queue.ErrTaskDone, queue.ErrPeerDied,
}

// returnSentinel runs in a child and fails with sentinel i, wrapped.
var returnSentinel = spawn.Register("queue.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	return struct{}{}, fmt.Errorf("child op: %w", queueSentinels[i])
})

func TestSentinelsCrossTheProcessBoundary(t *testing.T) {
	for i, want := range queueSentinels {
		_, err := returnSentinel.Run(qCtx(t), i)
		if !errors.Is(err, want) {
			t.Errorf("child returned %q: errors.Is(err, %q) is false in the parent", err, want)
		}
	}
}
