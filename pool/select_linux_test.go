package pool_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// selectIdle measures, in a process of its own (no other test's leftover
// goroutines count), the CPU a 2 s WaitAny costs over an empty queue, the
// pipe end h (its peer, the test, is alive and silent) and a running
// process of its own; it returns the share of a core used.
var selectIdle = spawn.Register("pool.selectIdle", func(ctx context.Context, h queue.PipeHandle) (float64, error) {
	a, err := queue.OpenPipe(h)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	r, err := shm.New(4 << 20)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	q, _ := queue.New(r, queue.Config{Bytes: 4096})
	ka, kb, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		return 0, err
	}
	kid, err := selectEcho.Start(ctx, kb.Handle(), spawn.Share(r))
	if err != nil {
		ka.Close()
		return 0, err
	}
	defer func() {
		ka.Close()    // ends the grandchild's Recv
		kid.Wait(ctx) //nolint:errcheck // it ends with ErrClosed
	}()
	runtime.GC()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	before, start := cpuNow(), time.Now()
	got, err := pool.WaitAny(wctx, q, a, kid)
	used, took := cpuNow()-before, time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || got != nil {
		return 0, fmt.Errorf("WaitAny with nothing ready = %v, %v", got, err)
	}
	return float64(used) / float64(took), nil
})

// TestWaitAnyIdleCost: WaitAny over an empty queue, a pipe whose live peer
// is silent and a running process costs (almost) nothing while it waits:
// 1% of a core at most (10% under qemu-user, whose translation of the
// runtime's idle work costs ten times more), twice the ceiling of one of
// queue's idle waits, since two objects sleep here (0.2-0.33% measured).
func TestWaitAnyIdleCost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	share, err := selectIdle.Run(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	ceiling := 0.01
	if proc.Emulated() {
		ceiling = 0.10
	}
	t.Logf("WaitAny idle for 2 s: %.3f%% of a core", 100*share)
	if share > ceiling {
		t.Fatalf("WaitAny idle cost %.3f%% of a core, ceiling %.1f%%", 100*share, 100*ceiling)
	}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
