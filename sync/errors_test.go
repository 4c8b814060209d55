package sync_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// syncSentinels are every sentinel of package sync, in a fixed order that
// parent and child share.
var syncSentinels = []error{fsync.ErrOwnerDead, fsync.ErrBroken, fsync.ErrReleased, fsync.ErrInvalid, fsync.ErrNotRecoverable, fsync.ErrNotHeld}

// returnSentinel runs in a child and fails with sentinel i, wrapped; i past
// the list is an error of a closed primitive.
var returnSentinel = spawn.Register("sync.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	if i >= len(syncSentinels) {
		r, err := shm.New(1 << 16)
		if err != nil {
			return struct{}{}, err
		}
		e, err := fsync.NewEvent(r)
		if err != nil {
			return struct{}{}, err
		}
		r.Close()
		return struct{}{}, e.Wait()
	}
	return struct{}{}, fmt.Errorf("child op: %w", syncSentinels[i])
})

func TestSentinelsCrossTheProcessBoundary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, want := range syncSentinels {
		_, err := returnSentinel.Run(ctx, i)
		if !errors.Is(err, want) {
			t.Errorf("child returned %q: errors.Is(err, %q) is false in the parent", err, want)
		}
		for j, other := range syncSentinels {
			if j != i && errors.Is(err, other) {
				t.Errorf("child returned %q: errors.Is(err, %q) is true too", err, other)
			}
		}
	}
	// ErrInvalid is the standard library's meaning too, across the boundary.
	if _, err := returnSentinel.Run(ctx, 3); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("%v: want fs.ErrInvalid", err)
	}
	// A closed primitive's error wraps shm.ErrClosed.
	if _, err := returnSentinel.Run(ctx, len(syncSentinels)); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("%v: want shm.ErrClosed", err)
	}
}
