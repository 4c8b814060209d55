//go:build unix

package pool_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
)

// The tests of this file mirror CPython's test_concurrent_futures (WaitTests,
// AsCompletedTests, FutureTests), named after the test they port.

// startedFifo makes a FIFO for sleepArg.Started and returns its path and a
// function that waits until a task opened it, that is until the task runs:
// an event, not a poll.
func startedFifo(t *testing.T) (string, func(ctx context.Context)) {
	t.Helper()
	path := t.TempDir() + "/started"
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, func(ctx context.Context) {
		t.Helper()
		opened := make(chan error, 1)
		go func() {
			f, err := os.Open(path) // blocks until the task opens it to write
			if err == nil {
				f.Close()
			}
			opened <- err
		}()
		select {
		case err := <-opened:
			if err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			// Release the blocked open: a writer that comes and goes.
			if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Fatal("the task did not start")
		}
	}
}

// blocker returns a task that runs until it is cancelled, and has started.
func blocker(t *testing.T, p *pool.Pool, ctx context.Context) *pool.Future[int] {
	t.Helper()
	fifo, started := startedFifo(t)
	f := pool.Submit(p, poolSleep, sleepArg{D: time.Hour, Obey: true, Started: fifo})
	t.Cleanup(func() { f.Cancel() })
	started(ctx)
	return f
}

func TestWait_first_exception(t *testing.T) {
	p := newTestPool(t)
	ctx := poolCtx(t, 30*time.Second)
	f1 := pool.Submit(p, poolSquare, 6)
	if _, err := f1.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f3 := blocker(t, p, ctx)
	f2 := pool.Submit(p, poolFlaky, 1) // fails
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{f1, f2, f3}, pool.FirstException)
	if err != nil || !slices.Equal(done, []*pool.Future[int]{f1, f2}) || !slices.Equal(notDone, []*pool.Future[int]{f3}) {
		t.Fatalf("Wait(FirstException) = done %d, not done %d, %v; want f1 f2, f3", len(done), len(notDone), err)
	}
	if f2.Err() == nil {
		t.Fatal("the failed future's Err is nil")
	}
}

func TestWait_first_exception_one_already_failed(t *testing.T) {
	p := newTestPool(t)
	ctx := poolCtx(t, 30*time.Second)
	failed := pool.Submit(p, poolFlaky, 1)
	if _, err := failed.Wait(ctx); err == nil {
		t.Fatal("poolFlaky(1) succeeded")
	}
	slow := blocker(t, p, ctx)
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{failed, slow}, pool.FirstException)
	if err != nil || !slices.Equal(done, []*pool.Future[int]{failed}) || !slices.Equal(notDone, []*pool.Future[int]{slow}) {
		t.Fatalf("Wait(FirstException) = done %d, not done %d, %v", len(done), len(notDone), err)
	}
}

// TestWait_all_completed: FirstException with no failure, and AllCompleted,
// wait for every future; a future given twice is listed once.
func TestWait_all_completed(t *testing.T) {
	p := newTestPool(t)
	ctx := poolCtx(t, 30*time.Second)
	for _, when := range []pool.ReturnWhen{pool.AllCompleted, pool.FirstException} {
		fs := []*pool.Future[int]{pool.Submit(p, poolSquare, 2), pool.Submit(p, poolSquare, 3)}
		done, notDone, err := pool.Wait(ctx, append(fs, fs[0]), when)
		if err != nil || len(notDone) != 0 || !slices.Equal(done, fs) {
			t.Fatalf("Wait(%d) = done %d, not done %d, %v", when, len(done), len(notDone), err)
		}
	}
	if _, _, err := pool.Wait(ctx, []*pool.Future[int]{}, pool.ReturnWhen(7)); err == nil {
		t.Fatal("Wait with an unknown ReturnWhen: no error")
	}
}

// TestWait_timeout: at its deadline Wait returns what is done and what is
// not, with the context's error, instead of only the error.
func TestWait_timeout(t *testing.T) {
	p := newTestPool(t)
	ctx := poolCtx(t, 30*time.Second)
	ok := pool.Submit(p, poolSquare, 3)
	failed := pool.Submit(p, poolFlaky, 1)
	for _, f := range []*pool.Future[int]{ok, failed} {
		f.Wait(ctx)
	}
	slow := blocker(t, p, ctx)
	cancelled := pool.Submit(p, poolSquare, 4) // cancelled, or done first: done either way
	cancelled.Cancel()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	done, notDone, err := pool.Wait(short, []*pool.Future[int]{cancelled, failed, ok, slow}, pool.AllCompleted)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait at its deadline: %v, want context.DeadlineExceeded", err)
	}
	if !slices.Equal(done, []*pool.Future[int]{cancelled, failed, ok}) || !slices.Equal(notDone, []*pool.Future[int]{slow}) {
		t.Fatalf("Wait at its deadline: done %d, not done %d; want 3 and 1", len(done), len(notDone))
	}
}

func TestAsCompleted_duplicate_futures(t *testing.T) {
	p := newTestPool(t)
	ctx := poolCtx(t, 30*time.Second)
	f := pool.Submit(p, poolSquare, 5)
	n := 0
	for i, g := range pool.AsCompleted(ctx, f, f, f) {
		if i != 0 || g != f {
			t.Fatalf("AsCompleted yielded %d, %p; want 0, %p", i, g, f)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("AsCompleted over one future given three times yielded %d, want 1", n)
	}
}

// futureStates holds a future in each of Python's states.
type futureStates struct {
	pending, running, cancelled, failed, succeeded *pool.Future[int]
}

// makeFutureStates makes them on a pool of one worker that takes one task
// at a time: the running task holds it, the pending one waits in the pool.
func makeFutureStates(t *testing.T) futureStates {
	p := newTestPool(t, pool.Workers(1), pool.QueueDepth(1))
	ctx := poolCtx(t, 30*time.Second)
	var s futureStates
	s.succeeded = pool.Submit(p, poolSquare, 3)
	s.failed = pool.Submit(p, poolFlaky, 1)
	s.succeeded.Wait(ctx)
	s.failed.Wait(ctx)
	s.running = blocker(t, p, ctx)
	s.pending = pool.Submit(p, poolSquare, 4)
	t.Cleanup(func() { s.pending.Cancel() })
	s.cancelled = pool.Submit(p, poolSquare, 5)
	if !s.cancelled.Cancel() {
		t.Fatal("Cancel of a pending task reported false")
	}
	return s
}

func TestFuture_running(t *testing.T) {
	s := makeFutureStates(t)
	for _, c := range []struct {
		name string
		f    *pool.Future[int]
		want bool
	}{
		{"pending", s.pending, false}, {"running", s.running, true}, {"cancelled", s.cancelled, false},
		{"failed", s.failed, false}, {"succeeded", s.succeeded, false},
	} {
		if got := c.f.Running(); got != c.want {
			t.Errorf("%s future: Running() = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFuture_cancelled(t *testing.T) {
	s := makeFutureStates(t)
	for _, c := range []struct {
		name string
		f    *pool.Future[int]
		want bool
	}{
		{"pending", s.pending, false}, {"running", s.running, false}, {"cancelled", s.cancelled, true},
		{"failed", s.failed, false}, {"succeeded", s.succeeded, false},
	} {
		if got := c.f.Cancelled(); got != c.want {
			t.Errorf("%s future: Cancelled() = %v, want %v", c.name, got, c.want)
		}
	}
	if s.succeeded.Cancel() || s.succeeded.Cancelled() {
		t.Error("Cancel of a finished future: reported true, or marked it cancelled")
	}
	// Unlike Python's cancel (False for a running future, which runs on),
	// Cancel stops a running task and reports true (Future.Cancel's doc).
	if !s.running.Cancel() || !s.running.Cancelled() || s.running.Running() {
		t.Error("Cancel of the running future: not cancelled")
	}
	if _, err := s.running.Wait(poolCtx(t, 30*time.Second)); !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled running future: %v, want context.Canceled", err)
	}
}
