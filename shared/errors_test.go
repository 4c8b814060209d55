package shared_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// sharedSentinels are every sentinel of package shared, in a fixed order
// that parent and child share.
var sharedSentinels = []error{
	shared.ErrNotFound, shared.ErrIndex, shared.ErrEmpty, shared.ErrFixed, shared.ErrTooLarge,
	shared.ErrCorrupt, shared.ErrHandle, shared.ErrTimeout, shared.ErrCodec,
}

// returnSentinel runs in a child and fails with sentinel i, wrapped.
var returnSentinel = spawn.Register("shared.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	return struct{}{}, fmt.Errorf("child op: %w", sharedSentinels[i])
})

func TestSentinelsCrossTheProcessBoundary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, want := range sharedSentinels {
		_, err := returnSentinel.Run(ctx, i)
		if !errors.Is(err, want) {
			t.Errorf("child returned %q: errors.Is(err, %q) is false in the parent", err, want)
		}
	}
	// The package's corrupt and too-large errors are shm's shared meanings,
	// across the boundary too.
	if _, err := returnSentinel.Run(ctx, 5); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("%v: want shm.ErrCorrupt", err)
	}
	if _, err := returnSentinel.Run(ctx, 4); !errors.Is(err, shm.ErrTooLarge) {
		t.Errorf("%v: want shm.ErrTooLarge", err)
	}
}
