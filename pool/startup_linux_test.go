package pool_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// poolInitSlow sleeps d before the worker is ready, a window in which a
// test kills it.
var poolInitSlow = spawn.Register("pool.poolInitSlow", func(ctx context.Context, d time.Duration) (struct{}, error) {
	time.Sleep(d)
	return struct{}{}, nil
})

// poolInitOnce lets the first worker that runs it (the one that creates
// the marker file) be ready; every other exits with status 3.
var poolInitOnce = spawn.Register("pool.poolInitOnce", func(ctx context.Context, marker string) (struct{}, error) {
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		os.Exit(3)
	}
	return struct{}{}, f.Close()
})

// killNewPids SIGKILLs up to n worker processes of p, each as soon as it
// shows in p.Pids(), and returns the count once n are killed, or done is
// closed, or ctx ends.
func killNewPids(ctx context.Context, p *pool.Pool, n int, done <-chan struct{}) int {
	killed := map[int]bool{}
	for len(killed) < n && ctx.Err() == nil {
		select {
		case <-done:
			return len(killed)
		default:
		}
		for _, pid := range p.Pids() {
			if !killed[pid] && len(killed) < n {
				killed[pid] = true
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(time.Millisecond) // polls Pids: no event says a worker started
	}
	return len(killed)
}

// TestWorkersKilledBeforeReadyKeepThePool: twelve workers SIGKILLed from
// outside while their initializer runs, before they are ready, are
// replaced; the Map running meanwhile completes once the kills stop. Before
// the fix, the tenth such kill broke the pool and failed every item.
func TestWorkersKilledBeforeReadyKeepThePool(t *testing.T) {
	ctx := poolCtx(t, 120*time.Second)
	p, err := pool.New(ctx, pool.Workers(1), pool.Retries(3), pool.Initializer(poolInitSlow, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	in := make([]int, 200)
	for i := range in {
		in[i] = i
	}
	done := make(chan struct{})
	var out []int
	var mapErr error
	go func() {
		out, mapErr = pool.Map(ctx, p, poolSquare, in, pool.Chunk(1))
		close(done)
	}()
	const kills = 12
	if n := killNewPids(ctx, p, kills, done); n < kills {
		t.Fatalf("only %d workers killed before the Map returned: %v", n, mapErr)
	}
	<-done
	if err := mapErr; err != nil {
		t.Fatalf("map after %d kills before ready: %v", kills, err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	if s := p.Stats(); s.Restarts < kills {
		t.Errorf("stats %+v, want at least %d restarts", s, kills)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// TestBrokenBinaryBreaksPool: workers that exit on their own before they
// attach (a binary without spawn.Main) break the pool instead of being
// restarted forever; pending work and Close report why.
func TestBrokenBinaryBreaksPool(t *testing.T) {
	ctx := poolCtx(t, 60*time.Second)
	p, err := pool.New(ctx, pool.Workers(2), pool.WorkerOptions(spawn.Env("POOL_TEST_EXIT_AT_START=1")))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	_, err = pool.Apply(ctx, p, poolSquare, 3)
	if err == nil || !strings.Contains(err.Error(), "keep dying before they are ready") {
		t.Fatalf("apply on a broken binary: %v", err)
	}
	if err := p.Close(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close of a broken pool: %v", err)
	}
}

// TestStartFailuresWhileAnotherServes: one slot's workers keep exiting
// before they are ready while the other slot's worker is ready and
// serving: the binary works, so the pool does not break; the failing slot
// is restarted after growing pauses. Before the fix, the third such exit
// broke the pool.
func TestStartFailuresWhileAnotherServes(t *testing.T) {
	ctx := poolCtx(t, 60*time.Second)
	p, err := pool.New(ctx, pool.Workers(2), pool.Initializer(poolInitOnce, t.TempDir()+"/ready"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	for p.Stats().Restarts < 5 {
		if v, err := pool.Apply(ctx, p, poolSquare, 7); err != nil || v != 49 {
			t.Fatalf("apply after %d restarts: %v, %v", p.Stats().Restarts, v, err)
		}
		time.Sleep(5 * time.Millisecond) // restarts follow exits: nothing to wait on
	}
	if v, err := pool.Apply(ctx, p, poolSquare, 8); err != nil || v != 64 {
		t.Fatalf("apply: %v, %v", v, err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// TestPoolKilledWorkersLeaveNoFds: a pool whose workers were SIGKILLed
// while a Map ran holds no descriptor once Closed (each incarnation's
// region, pipes and process handle are released).
func TestPoolKilledWorkersLeaveNoFds(t *testing.T) {
	count := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(fds)
	}
	ctx := poolCtx(t, 120*time.Second)
	run := func(kills int) int {
		p, err := pool.New(ctx, pool.Workers(2), pool.Retries(3))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Terminate(context.Background())
		in := make([]sleepArg, 4000)
		for i := range in {
			in[i] = sleepArg{D: time.Millisecond, N: i}
		}
		done := make(chan struct{})
		var mapErr error
		go func() {
			_, mapErr = pool.Map(ctx, p, poolSleep, in, pool.Chunk(1))
			close(done)
		}()
		n := killNewPids(ctx, p, kills, done)
		<-done
		if mapErr != nil {
			t.Fatalf("map: %v", mapErr)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
		return n
	}
	run(0) // the runtime's own descriptors (netpoller, pipes) opened once
	before := count()
	n := run(12)
	if n == 0 {
		t.Fatal("no worker killed before the Map returned")
	}
	if after := count(); after > before {
		t.Fatalf("%d descriptors before a pool with %d workers killed, %d after it closed", before, n, after)
	}
	t.Logf("%d workers killed; %d descriptors before and after", n, before)
}
