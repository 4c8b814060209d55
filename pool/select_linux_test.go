package pool_test

import (
	"context"
	"errors"
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

// TestWaitAnyIdleCost: WaitAny over an empty queue, a pipe whose live peer
// is silent and a running process costs (almost) nothing while it waits:
// this process's CPU time over a 2 s wait, against 0.5% of a core (5%
// under qemu-user, whose translation of the runtime's idle work costs ten
// times more), the ceiling of queue's own idle tests.
func TestWaitAnyIdleCost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := shm.New(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q, _ := queue.New(r, queue.Config{Bytes: 4096})
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := selectEcho.Start(ctx, b.Handle(), spawn.Share(r)) // waits for a message
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ceiling := 0.005
	if proc.Emulated() {
		ceiling = 0.05
	}
	runtime.GC()
	const block = 2 * time.Second
	wctx, wcancel := context.WithTimeout(ctx, block)
	defer wcancel()
	before := selectCPUTime(t)
	start := time.Now()
	got, err := pool.WaitAny(wctx, q, a, p)
	used, took := selectCPUTime(t)-before, time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || got != nil {
		t.Fatalf("WaitAny with nothing ready = %v, %v", got, err)
	}
	share := float64(used) / float64(took)
	t.Logf("WaitAny idle for %v: %v of CPU, %.3f%% of a core", took.Round(time.Millisecond), used, 100*share)
	if share > ceiling {
		t.Fatalf("WaitAny idle cost %.3f%% of a core, ceiling %.1f%%", 100*share, 100*ceiling)
	}
}

func selectCPUTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
