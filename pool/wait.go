package pool

import (
	"context"
	"fmt"
	"iter"
	"reflect"
)

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
// completes, like concurrent.futures.as_completed. A future given more
// than once is yielded once, with its first index. It stops early when ctx
// ends (check ctx.Err() after the loop) or when the loop breaks.
func AsCompleted[F Awaitable](ctx context.Context, fs ...F) iter.Seq2[int, F] {
	return func(yield func(int, F) bool) {
		idx := distinct(fs)
		if len(idx) == 0 {
			return
		}
		ch, release := completions(pick(fs, idx))
		defer release()
		for range idx {
			select {
			case k := <-ch:
				if !yield(idx[k], fs[idx[k]]) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

// ReturnWhen says when Wait returns, as concurrent.futures.wait's
// return_when does.
type ReturnWhen int

const (
	// AllCompleted: when every future is done (ALL_COMPLETED).
	AllCompleted ReturnWhen = iota
	// FirstCompleted: when any future is done (FIRST_COMPLETED).
	FirstCompleted
	// FirstException: when any future failed, that is is done with a
	// non-nil Err (a *Future whose task failed, a context that ended), or
	// else when every one is done (FIRST_EXCEPTION).
	FirstException
)

// Wait waits on fs until when says, and returns the futures done by then
// and those not, each in the order of fs, a future given more than once
// listed once: Python's concurrent.futures.wait(fs, timeout, return_when).
// When ctx ends first, Wait returns the two lists as they are then, with
// ctx's error (Python's timeout: done and not done, no exception). The
// futures' results are then read with their Wait. An unknown when is an
// error. WaitFirst and WaitAll are the short forms that need no lists.
func Wait[F Awaitable](ctx context.Context, fs []F, when ReturnWhen) (done, notDone []F, err error) {
	if when < AllCompleted || when > FirstException {
		return nil, nil, fmt.Errorf("wait for futures: unknown ReturnWhen %d", when)
	}
	uniq := pick(fs, distinct(fs))
	finished := func(f F) bool {
		switch when {
		case FirstCompleted:
			return true
		case FirstException:
			e, ok := any(f).(interface{ Err() error })
			return ok && e.Err() != nil
		}
		return false
	}
	pending := 0
	over := false
	for _, f := range uniq {
		select {
		case <-f.Done():
			over = over || finished(f)
		default:
			pending++
		}
	}
	if !over && pending > 0 {
		ch, release := completions(uniq)
		defer release()
	wait:
		for range uniq { // every future's index comes once
			select {
			case k := <-ch:
				if finished(uniq[k]) {
					break wait
				}
			case <-ctx.Done():
				err = fmt.Errorf("wait for futures: %w", ctx.Err())
				break wait
			}
		}
	}
	for _, f := range uniq {
		select {
		case <-f.Done():
			done = append(done, f)
		default:
			notDone = append(notDone, f)
		}
	}
	return done, notDone, err
}

// distinct returns the indexes of the elements of fs that are not the same
// future as an earlier one.
func distinct[F Awaitable](fs []F) []int {
	idx := make([]int, 0, len(fs))
	seen := make(map[any]bool, len(fs))
	for i, f := range fs {
		if v := reflect.ValueOf(f); v.IsValid() && v.Comparable() {
			if seen[any(f)] {
				continue
			}
			seen[any(f)] = true
		}
		idx = append(idx, i)
	}
	return idx
}

// pick returns the elements of fs at idx.
func pick[F any](fs []F, idx []int) []F {
	if len(idx) == len(fs) {
		return fs
	}
	out := make([]F, len(idx))
	for k, i := range idx {
		out[k] = fs[i]
	}
	return out
}
