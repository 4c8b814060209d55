package shm_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

type allocLoopArg struct {
	Heap shm.Handle
	Flag shm.Handle // Value[atomic.Uint32]: the child sets 1 once it loops, the parent 2 to stop it
}

// heapAllocLoop runs in a child: Alloc(64)+Free until told to stop.
var heapAllocLoop = spawn.Register("shm.heapAllocLoop", func(ctx context.Context, a allocLoopArg) (int64, error) {
	h, err := shm.OpenHeap(a.Heap)
	if err != nil {
		return 0, err
	}
	v, err := shm.OpenValue[atomic.Uint32](a.Flag)
	if err != nil {
		return 0, err
	}
	flag := v.Ptr()
	flag.Store(1)
	var n int64
	for ; flag.Load() != 2; n++ {
		off, err := h.Alloc(64)
		if err != nil {
			return n, err
		}
		if err := h.Free(off); err != nil {
			return n, err
		}
	}
	return n, nil
})

// BenchmarkHeapAllocFree: Alloc(64)+Free in one process (par=1), and
// with a second process doing the same on the same heap (par=2: the
// free-list head and the stats counters are lines both write).
func BenchmarkHeapAllocFree(b *testing.B) {
	for _, par := range []int{1, 2} {
		b.Run(map[int]string{1: "par=1", 2: "par=2"}[par], func(b *testing.B) {
			h := newHeap(b, 1<<20)
			if par == 2 {
				v, err := shm.NewValue[atomic.Uint32](h.Region())
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				p, err := heapAllocLoop.Start(ctx, allocLoopArg{Heap: h.Handle(), Flag: v.Handle()}, spawn.Share(h.Region()))
				if err != nil {
					b.Fatal(err)
				}
				for v.Ptr().Load() == 0 {
					time.Sleep(time.Millisecond) // the child's start-up is not timed
				}
				defer func() {
					v.Ptr().Store(2)
					if _, err := p.Wait(ctx); err != nil {
						b.Error(err)
					}
				}()
			}
			for b.Loop() {
				off, err := h.Alloc(64)
				if err != nil {
					b.Fatal(err)
				}
				if err := h.Free(off); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
