package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

type ownArg struct {
	Done  *fsync.Event
	Count *fsync.Value[int64]
	Raw   *shm.Value[int64]
}

var ownBump = spawn.Register("sync.ownBump", func(ctx context.Context, a ownArg) (struct{}, error) {
	if err := a.Count.Update(ctx, func(p *int64) { *p += 10 }); err != nil {
		return struct{}{}, err
	}
	raw, err := a.Raw.Load()
	if err != nil {
		return struct{}{}, err
	}
	if err := a.Raw.Store(raw + 1); err != nil {
		return struct{}{}, err
	}
	a.Done.Set()
	return struct{}{}, nil
})

// TestNilRegionObjects: objects made with a nil region get one of their
// own, sized for them, and travel to a child as arguments like any other.
func TestNilRegionObjects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done, err1 := fsync.NewEvent(nil)
	count, err2 := fsync.NewValue[int64](nil, 5)
	raw, err3 := shm.NewValue[int64](nil, 7)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if raw.Handle().Region == count.Handle().Region {
		t.Fatal("two objects made with nil share a region")
	}
	if _, err := ownBump.Run(ctx, ownArg{done, count, raw}); err != nil {
		t.Fatal(err)
	}
	if !done.IsSet() {
		t.Fatal("the child's Set is not seen")
	}
	if n, err := count.Load(ctx); err != nil || n != 15 {
		t.Fatalf("count = %d, %v; want 15", n, err)
	}
	if n, err := raw.Load(); err != nil || n != 8 {
		t.Fatalf("raw = %d, %v; want 8", n, err)
	}
}
