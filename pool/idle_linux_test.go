package pool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/pool"
)

// Idle cost (issue 13): a pool whose workers are idle, or sleep in their
// item, while the parent blocks in Future.Wait or Map, costs at most 0.5%
// of a core in the parent and in each worker (5% under qemu-user, which
// translates the runtime's own idle work at about ten times its cost; see
// queue/idle_linux_test.go). Measured as CPU time over the block: the
// parent's by getrusage, each worker's by /proc/PID/schedstat (ns on a
// CPU, finer than the 10 ms ticks of /proc/PID/stat).

const poolIdleBlock = 3 * time.Second

var poolIdleCeiling = func() float64 {
	if proc.Emulated() {
		return 0.05
	}
	return 0.005
}()

// schedNs is the time pid has spent on a CPU, in nanoseconds.
func schedNs(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		t.Skipf("no schedstat: %v", err)
	}
	f := strings.Fields(string(b))
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatalf("schedstat %q", b)
	}
	return ns
}

func selfCPU(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// poolIdleCost runs block (which must wait until its context ends) for
// poolIdleBlock and fails the test if the parent or any worker of p used
// more than ceiling (a share of a core) meanwhile.
func poolIdleCost(t *testing.T, p *pool.Pool, ceiling float64, block func(ctx context.Context) error) {
	t.Helper()
	// Collect, and give freed memory back to the system now: otherwise the
	// runtime's background scavenger does it during the block, at up to 1%
	// of a core, after tests that allocated much (it was seen at 0.5-0.8%).
	debug.FreeOSMemory()
	pids := p.Pids()
	ctx, cancel := context.WithTimeout(context.Background(), poolIdleBlock)
	defer cancel()
	before := make([]int64, len(pids))
	for i, pid := range pids {
		before[i] = schedNs(t, pid)
	}
	self, start := selfCPU(t), time.Now()
	err := block(ctx)
	used, el := selfCPU(t)-self, time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked call returned %v, want the context's deadline", err)
	}
	check := func(who string, ns int64) {
		share := float64(ns) / float64(el)
		t.Logf("%s: %v of CPU in %v: %.3f%% of a core", who, time.Duration(ns), el.Round(time.Millisecond), 100*share)
		if share > ceiling {
			t.Errorf("%s used %.2f%% of a core while idle, want at most %.1f%%", who, 100*share, 100*ceiling)
		}
	}
	check("parent", used)
	for i, pid := range pids {
		check(fmt.Sprintf("worker %d", pid), schedNs(t, pid)-before[i])
	}
}

func TestPoolIdleCost(t *testing.T) {
	long := sleepArg{D: time.Hour, Obey: true}
	// Each case has a pool of its own: cancelling the sleeping item at the
	// end stops its worker, and a replacement's start is not idle.
	idlePool := func(t *testing.T, opts ...pool.Option) *pool.Pool {
		p := newTestPool(t, opts...)
		// Warm up, then let the workers' polls run out.
		if _, err := pool.Map(poolCtx(t, 60*time.Second), p, poolSquare, make([]int, 1000)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		return p
	}
	t.Run("Future.Wait", func(t *testing.T) {
		p := idlePool(t)
		f := pool.Submit(p, poolSleep, long)
		defer f.Cancel()
		for !f.Running() {
			time.Sleep(time.Millisecond)
		}
		poolIdleCost(t, p, poolIdleCeiling, func(ctx context.Context) error { _, err := f.Wait(ctx); return err })
	})
	t.Run("Map", func(t *testing.T) {
		p := idlePool(t)
		poolIdleCost(t, p, poolIdleCeiling, func(ctx context.Context) error {
			_, err := pool.Map(ctx, p, poolSleep, []sleepArg{long}, pool.Chunk(1))
			return err
		})
	})
	// With progress on, a snapshot every ProgressInterval while the item
	// runs (and none once the pool is idle). The parent is not idle then:
	// five timer wake-ups and snapshots a second cost it 0.23-0.37% of a
	// core on a quiet 2-vCPU VM and 0.52% once under CI's parallel
	// packages, so this case's ceiling is twice the idle one.
	t.Run("MapWithProgress", func(t *testing.T) {
		p := idlePool(t, pool.OnProgress(func(pool.Stats) {}))
		poolIdleCost(t, p, 2*poolIdleCeiling, func(ctx context.Context) error {
			_, err := pool.Map(ctx, p, poolSleep, []sleepArg{long}, pool.Chunk(1))
			return err
		})
	})
}
