//go:build unix

package pool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// Tests for the defects of issues 12 and 13, each written to fail before
// its fix.

// crashArg asks defectCrash to kill its own worker at item At: with
// os.Exit(3) when Exit is set, SIGKILL otherwise.
type crashArg struct {
	X, At int
	Exit  bool
}

var defectCrash = spawn.Register("pool.defectCrash", func(ctx context.Context, a crashArg) (int, error) {
	if a.X == a.At {
		if a.Exit {
			os.Exit(3)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	return a.X + 1, nil
})

// defectOpenPool makes a pool, maps over it and returns its workers' pids
// without closing it.
var defectOpenPool = spawn.Register("pool.defectOpenPool", func(ctx context.Context, n int) ([]int, error) {
	p, err := pool.New(ctx, pool.Workers(n))
	if err != nil {
		return nil, err
	}
	if _, err := pool.Map(ctx, p, defectCrash, []crashArg{{X: 1, At: -1}, {X: 2, At: -1}}); err != nil {
		return nil, err
	}
	return p.Pids(), nil
})

func defectCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Issue 13: workers publish results in batches, so when an item kills its
// worker the tasks before it may still be unpublished. The parent must
// still fail the item that was running (not requeue it as merely queued),
// so the worker restarts exactly once per attempt.
func TestCrashingItemRestartsOncePerAttempt(t *testing.T) {
	for _, retries := range []int{0, 2} {
		for round := range 3 {
			t.Run(fmt.Sprintf("retries=%d/round=%d", retries, round), func(t *testing.T) {
				crashOnce(t, retries, round%2 == 0)
			})
		}
	}
}

func crashOnce(t *testing.T, retries int, exit bool) {
	ctx := defectCtx(t, 60*time.Second)
	p, err := pool.New(ctx, pool.Workers(1), pool.Retries(retries))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	const n, at = 300, 157
	in := make([]crashArg, n)
	for i := range in {
		in[i] = crashArg{X: i, At: at, Exit: exit}
	}
	out, err := pool.Map(ctx, p, defectCrash, in, pool.Chunk(1))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 1 || me.Failed[0].Index != at {
		t.Fatalf("err = %v, want exactly item %d failed (stats %+v)", err, at, p.Stats())
	}
	var we *pool.WorkerError
	if !errors.As(err, &we) || !errors.Is(err, spawn.ErrDied) || we.Attempts != retries+1 {
		t.Fatalf("err = %v, want a *WorkerError after %d attempts", err, retries+1)
	}
	for i := range in {
		if i != at && out[i] != i+1 {
			t.Fatalf("out[%d] = %d, want %d", i, out[i], i+1)
		}
	}
	s := p.Stats()
	if s.Restarts != int64(retries+1) || s.Retried != int64(retries) || s.Failed != 1 || s.Done != n-1 {
		t.Errorf("stats %+v, want %d restarts, %d retried, 1 failed, %d done", s, retries+1, retries, n-1)
	}
}

// Issue 12: a process that returns with a pool still open exits promptly,
// and its workers are gone (Python's pool workers are daemonic, and an open
// pool is terminated at exit).
func TestChildWithOpenPoolExits(t *testing.T) {
	ctx := defectCtx(t, 20*time.Second)
	start := time.Now()
	pids, err := defectOpenPool.Run(ctx, 2)
	if err != nil {
		t.Fatalf("child with an open pool: %v (after %v)", err, time.Since(start))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("child took %v to exit", d)
	}
	if len(pids) != 2 {
		t.Fatalf("pids %v, want 2", pids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("worker %d still exists after its pool's process exited (kill 0: %v)", pid, err)
		}
	}
}

// Issue 12: Workers(n) with n < 1 is refused (Python's Pool(0) is a
// ValueError), not taken for the default; without Workers the pool has
// CPUCount() workers.
func TestWorkersBelowOneRefused(t *testing.T) {
	ctx := defectCtx(t, 30*time.Second)
	for _, n := range []int{0, -1, 4097} {
		p, err := pool.New(ctx, pool.Workers(n))
		if err == nil {
			p.Terminate(context.Background())
		}
		if !errors.Is(err, pool.ErrWorkers) {
			t.Errorf("New(Workers(%d)) = %v, want an error wrapping ErrWorkers", n, err)
		}
	}
	p, err := pool.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	if got, want := p.Workers(), spawn.CPUCount(); got != want {
		t.Errorf("default pool has %d workers, want CPUCount() = %d", got, want)
	}
	// The new sentinel crosses the process boundary like the others.
	if _, err := defectReturnErrWorkers.Run(ctx, 0); !errors.Is(err, pool.ErrWorkers) {
		t.Errorf("child returned ErrWorkers wrapped: parent got %v", err)
	}
}

var defectReturnErrWorkers = spawn.Register("pool.defectReturnErrWorkers", func(ctx context.Context, _ int) (int, error) {
	return 0, fmt.Errorf("new pool: %w", pool.ErrWorkers)
})

// Issue 12: Imap reads its input only as far as its window: at most Window
// items (rounded up to whole chunks, at least two) read and not yet
// yielded; by default 4 tasks per worker, at least 64 items.
func TestImapReadAheadBound(t *testing.T) {
	ctx := defectCtx(t, 60*time.Second)
	p, err := pool.New(ctx, pool.Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	for _, c := range []struct {
		name  string
		opts  []pool.MapOption
		bound int64
	}{
		{"default", nil, 64},
		{"window 12 chunk 5", []pool.MapOption{pool.Window(12), pool.Chunk(5)}, 15},
		{"window 3 chunk 4", []pool.MapOption{pool.Window(3), pool.Chunk(4)}, 8},
	} {
		var pulled atomic.Int64
		naturals := func(yield func(crashArg) bool) {
			for i := 0; ; i++ {
				pulled.Add(1)
				if !yield(crashArg{X: i, At: -1}) {
					return
				}
			}
		}
		i := int64(0)
		for v, err := range pool.Imap(ctx, p, defectCrash, naturals, c.opts...) {
			if err != nil || v != int(i)+1 {
				t.Fatalf("%s: result %d = %d, %v", c.name, i, v, err)
			}
			if n := pulled.Load(); n > i+c.bound {
				t.Fatalf("%s: %d items read with %d yielded: more than %d ahead", c.name, n, i, c.bound)
			}
			if i++; i == 1000 {
				break
			}
		}
	}
}

// Issue 13, with Imap's defaults (chunks of one, a window of 64): one
// crashing item restarts the worker once and fails alone.
func TestCrashingItemInImapRestartsOnce(t *testing.T) {
	ctx := defectCtx(t, 60*time.Second)
	p, err := pool.New(ctx, pool.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	const n, at = 300, 211
	items := func(yield func(crashArg) bool) {
		for i := range n {
			if !yield(crashArg{X: i, At: at}) {
				return
			}
		}
	}
	i, failed := 0, 0
	for v, err := range pool.Imap(ctx, p, defectCrash, items) {
		switch {
		case i == at && errors.Is(err, spawn.ErrDied):
			failed++
		case err != nil || v != i+1:
			t.Fatalf("item %d: %d, %v", i, v, err)
		}
		i++
	}
	if s := p.Stats(); i != n || failed != 1 || s.Restarts != 1 || s.Failed != 1 {
		t.Errorf("%d results, %d failed, stats %+v; want %d, 1 failed, 1 restart", i, failed, s, n)
	}
}
