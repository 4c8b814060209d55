package shm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// shmSentinels are every sentinel of package shm, in a fixed order that
// parent and child share.
var shmSentinels = []error{
	shm.ErrClosed, shm.ErrCorrupt, shm.ErrTooLarge, shm.ErrNotRegion, shm.ErrTruncated, shm.ErrVersion,
	shm.ErrSize, shm.ErrName, shm.ErrNoSpace, shm.ErrRange, shm.ErrHandle, shm.ErrKind, shm.ErrType,
	shm.ErrNotAttached, shm.ErrRaw, shm.ErrFree,
}

// returnSentinel runs in a child and fails with sentinel i, wrapped.
var returnSentinel = spawn.Register("shm.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	return struct{}{}, fmt.Errorf("child op: %w", shmSentinels[i])
})

func TestSentinelsCrossTheProcessBoundary(t *testing.T) {
	for i, want := range shmSentinels {
		_, err := returnSentinel.Run(testContext(t), i)
		if !errors.Is(err, want) {
			t.Errorf("child returned %q: errors.Is(err, %q) is false in the parent", err, want)
		}
	}
}
