package sync_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

type counterRMWArg struct {
	Counter shm.Handle // an fsync.Value[int64]
	Start   shm.Handle // an fsync.Barrier: both processes start together
	Locked  bool
	N       int
}

// counterRMW runs in a child: N read-modify-write rounds on the shared
// counter. Between the read and the write it yields until the counter
// changes (at most 50 times): without the lock, the other process's write
// lands there whenever both run, and this write erases it (the first
// round waits there for the other process, so that this happens at least
// once). With Locked,
// each round holds the counter's Mutex, through its sync.Locker adapter,
// and nothing can land there.
var counterRMW = spawn.Register("sync.counterRMW", func(ctx context.Context, a counterRMWArg) (struct{}, error) {
	v, err := fsync.OpenValue[int64](a.Counter)
	if err != nil {
		return struct{}{}, err
	}
	start, err := fsync.OpenBarrier(a.Start)
	if err != nil {
		return struct{}{}, err
	}
	lk := v.Mutex().Locker(nil) // a counter needs no repair: a torn round is a lost one
	p := v.Ptr()
	if _, err := start.WaitContext(ctx); err != nil {
		return struct{}{}, err
	}
	for i := range a.N {
		if a.Locked {
			lk.Lock()
		}
		x := *p
		if i == 0 && !a.Locked {
			// The first round meets the other process between its read
			// and its write: the race the yields below hit by chance is
			// hit every run, even on a loaded machine that runs the two
			// processes one after the other.
			if _, err := start.WaitContext(ctx); err != nil {
				return struct{}{}, err
			}
		}
		for i := 0; i < 50 && atomic.LoadInt64(p) == x; i++ {
			runtime.Gosched() // the other process's updates land here...
		}
		*p = x + 1 // ...and this write erases them
		if a.Locked {
			lk.Unlock()
		}
	}
	return struct{}{}, nil
})

// countTwice runs two processes of n rounds each on a new counter and
// returns its total.
func countTwice(ctx context.Context, r *shm.Region, locked bool, n int) (int64, error) {
	v, err := fsync.NewValue[int64](r)
	if err != nil {
		return 0, err
	}
	start, err := fsync.NewBarrier(r, 2)
	if err != nil {
		return 0, err
	}
	arg := counterRMWArg{Counter: v.Handle(), Start: start.Handle(), Locked: locked, N: n}
	var ps []*spawn.Process[struct{}]
	for range 2 {
		p, err := counterRMW.Start(ctx, arg, spawn.Share(r))
		if err != nil {
			return 0, err
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			return 0, err
		}
	}
	return v.Load(ctx)
}

// Two processes add 1 to a shared counter 2,000 times each, reading it,
// yielding, then writing it back. Without the lock, one process's writes
// erase the other's (lost updates); with the lock (here as a sync.Locker)
// the total is exact.
func ExampleMutex_Locker() {
	r, err := shm.New(1 << 16)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ctx := context.Background()
	const n = 2000
	unlocked, err := countTwice(ctx, r, false, n)
	if err != nil {
		panic(err)
	}
	locked, err := countTwice(ctx, r, true, n)
	if err != nil {
		panic(err)
	}
	fmt.Println("without the lock, updates lost:", unlocked < 2*n)
	fmt.Println("with the lock:", locked)
	// Output:
	// without the lock, updates lost: true
	// with the lock: 4000
}

// TestCounterLockExampleLosesReliably: what ExampleMutex_Locker teaches
// must show every time: updates lost without the lock in every run, none
// with it.
func TestCounterLockExampleLosesReliably(t *testing.T) {
	r := region(t)
	const n = 2000
	for i := range 5 {
		got, err := countTwice(ctxT(t), r, false, n)
		if err != nil {
			t.Fatal(err)
		}
		if got >= 2*n {
			t.Fatalf("run %d without the lock: total %d, no update lost", i, got)
		}
		t.Logf("run %d without the lock: %d of %d updates lost", i, 2*n-got, 2*n)
		if got, err := countTwice(ctxT(t), r, true, n); err != nil || got != 2*n {
			t.Fatalf("run %d with the lock: total %d, %v; want %d", i, got, err, 2*n)
		}
	}
}
