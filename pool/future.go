package pool

import (
	"context"
	"fmt"
	"iter"
	"sync"
)

// Future is the result of one task submitted to an Executor (Submit), the
// counterpart of Python's AsyncResult and concurrent.futures.Future.
type Future[R any] struct {
	_    noCopy
	exec Executor
	job  *Job
	done chan struct{}

	mu    sync.Mutex
	fired bool
	hooks []func() // run once when done
	val   R        // written before done is closed, read after
	err   error
}

func newFuture[R any](ex Executor) *Future[R] {
	return &Future[R]{exec: ex, done: make(chan struct{})}
}

// complete sets the result, once; later calls do nothing.
func (f *Future[R]) complete(v R, err error) {
	f.mu.Lock()
	if f.fired {
		f.mu.Unlock()
		return
	}
	f.fired = true
	f.val, f.err = v, err
	hooks := f.hooks
	f.hooks = nil
	close(f.done)
	f.mu.Unlock()
	for _, h := range hooks {
		h()
	}
}

// onDone runs h once the future is done (at once if it is).
func (f *Future[R]) onDone(h func()) {
	f.mu.Lock()
	if f.fired {
		f.mu.Unlock()
		h()
		return
	}
	f.hooks = append(f.hooks, h)
	f.mu.Unlock()
}

// OnDone calls fn with the task's result once it is in (at once if it
// is), like the callback and error_callback of Python's apply_async. fn
// runs on one of the pool's goroutines and must return quickly.
func (f *Future[R]) OnDone(fn func(R, error)) {
	f.onDone(func() { fn(f.val, f.err) })
}

// Wait waits for the task's result. When ctx ends first, Wait returns
// ctx's error and the task goes on (Cancel stops it).
func (f *Future[R]) Wait(ctx context.Context) (R, error) {
	select {
	case <-f.done:
		return f.val, f.err
	default:
	}
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero R
		return zero, fmt.Errorf("wait for task: %w", ctx.Err())
	}
}

// Done returns a channel closed once the result is in.
func (f *Future[R]) Done() <-chan struct{} { return f.done }

// Ready is Done, so that a Future is a spawn.Waitable for spawn.WaitAny.
func (f *Future[R]) Ready() <-chan struct{} { return f.done }

// Cancel stops the task: a task not yet started never runs, a running one
// is stopped in stages (SIGTERM, then SIGKILL to its worker, which is
// replaced). The future completes with context.Canceled unless its result
// was already in. Cancel reports whether it completed the future.
func (f *Future[R]) Cancel() bool {
	f.mu.Lock()
	fired := f.fired
	f.mu.Unlock()
	if fired {
		return false
	}
	if f.exec != nil && f.job != nil {
		f.exec.CancelJob(f.job)
	}
	var zero R
	f.mu.Lock()
	fired = f.fired
	f.mu.Unlock()
	if fired {
		return false
	}
	f.complete(zero, fmt.Errorf("task cancelled: %w", context.Canceled))
	return true
}

// Awaitable is anything with a Done channel: a *Future of any result type,
// a *Process (through its Done), a context.
type Awaitable interface {
	Done() <-chan struct{}
}

// hooker is implemented by *Future: a way to learn of completion without a
// goroutine per future.
type hooker interface {
	onDone(func())
}

// completions sends the index of each of fs as it completes, on a channel
// with room for all of them (so senders never block), and returns a
// function that releases the helper goroutines of futures that are not
// *Future.
func completions[F Awaitable](fs []F) (<-chan int, func()) {
	ch := make(chan int, len(fs))
	stop := make(chan struct{})
	for i, f := range fs {
		if h, ok := any(f).(hooker); ok {
			h.onDone(func() { ch <- i })
			continue
		}
		go func() {
			select {
			case <-f.Done():
				ch <- i
			case <-stop:
			}
		}()
	}
	return ch, func() { close(stop) }
}

// WaitFirst waits until one of fs is done and returns its index, like
// concurrent.futures.wait(FIRST_COMPLETED). It returns ctx's error if ctx
// ends first, and -1 with no error when fs is empty.
func WaitFirst[F Awaitable](ctx context.Context, fs ...F) (int, error) {
	if len(fs) == 0 {
		return -1, nil
	}
	for i, f := range fs {
		select {
		case <-f.Done():
			return i, nil
		default:
		}
	}
	ch, release := completions(fs)
	defer release()
	select {
	case i := <-ch:
		return i, nil
	case <-ctx.Done():
		return -1, fmt.Errorf("wait for first: %w", ctx.Err())
	}
}

// WaitAll waits until every one of fs is done, like
// concurrent.futures.wait(ALL_COMPLETED); the results are then read with
// each future's Wait. It returns ctx's error if ctx ends first.
func WaitAll[F Awaitable](ctx context.Context, fs ...F) error {
	for _, f := range fs {
		select {
		case <-f.Done():
		case <-ctx.Done():
			return fmt.Errorf("wait for all: %w", ctx.Err())
		}
	}
	return nil
}

// AsCompleted yields the index and the future of each of fs as it
// completes, like concurrent.futures.as_completed. It stops early when ctx
// ends (check ctx.Err() after the loop) or when the loop breaks.
func AsCompleted[F Awaitable](ctx context.Context, fs ...F) iter.Seq2[int, F] {
	return func(yield func(int, F) bool) {
		if len(fs) == 0 {
			return
		}
		ch, release := completions(fs)
		defer release()
		for range fs {
			select {
			case i := <-ch:
				if !yield(i, fs[i]) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}
