//go:build unix

package pool_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// poolSentinels are every sentinel the package declares.
var poolSentinels = []error{
	pool.ErrPoolClosed, pool.ErrTerminated, pool.ErrTimeout, pool.ErrTooLarge, pool.ErrInitializer, pool.ErrWorkers,
}

// returnPoolSentinel returns poolSentinels[i], wrapped twice.
var returnPoolSentinel = spawn.Register("pool.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	return struct{}{}, fmt.Errorf("outer: %w", fmt.Errorf("op: %w", poolSentinels[i]))
})

func TestSentinelsCrossTheBoundary(t *testing.T) {
	ctx := poolCtx(t, 30*time.Second)
	// From a pool worker: each item's error.
	p := newTestPool(t, pool.Workers(1))
	idx := make([]int, len(poolSentinels))
	for i := range idx {
		idx[i] = i
	}
	_, err := pool.Map(ctx, p, returnPoolSentinel, idx, pool.Chunk(1))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != len(poolSentinels) {
		t.Fatalf("Map = %v, want a MapError with every item", err)
	}
	for _, ie := range me.Failed {
		var ce *spawn.ChildError
		if want := poolSentinels[ie.Index]; !errors.As(ie.Err, &ce) || !errors.Is(ie.Err, want) {
			t.Errorf("worker returned %v: parent got %v, errors.Is false", want, ie.Err)
		}
	}
	// From a plain child.
	for i, want := range poolSentinels {
		if _, err := returnPoolSentinel.Run(ctx, i); !errors.Is(err, want) {
			t.Errorf("child returned %v: parent got %v, errors.Is false", want, err)
		}
	}
	// The shared meanings hold too.
	if !errors.Is(me.Failed[0].Err, shm.ErrClosed) || !errors.Is(me.Failed[3].Err, shm.ErrTooLarge) {
		t.Errorf("ErrPoolClosed is not shm.ErrClosed or ErrTooLarge not shm.ErrTooLarge: %v", me)
	}
}
