package ring_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// ringSentinels are every sentinel of package ring, in a fixed order that
// parent and child share.
var ringSentinels = []error{
	ring.ErrClosed, ring.ErrFull, ring.ErrEmpty, ring.ErrTooLarge, ring.ErrCorrupt, ring.ErrCapacity,
}

// returnSentinel runs in a child and fails with sentinel i, wrapped.
var returnSentinel = spawn.Register("ring.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	return struct{}{}, fmt.Errorf("child op: %w", ringSentinels[i])
})

func TestSentinelsCrossTheProcessBoundary(t *testing.T) {
	for i, want := range ringSentinels {
		_, err := returnSentinel.Run(testCtx(t), i)
		if !errors.Is(err, want) {
			t.Errorf("child returned %q: errors.Is(err, %q) is false in the parent", err, want)
		}
	}
	// The shared meanings hold too.
	_, err := returnSentinel.Run(testCtx(t), 0)
	if !errors.Is(err, shm.ErrClosed) {
		t.Errorf("child returned %q: not shm.ErrClosed in the parent", err)
	}
}
