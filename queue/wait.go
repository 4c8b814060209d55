package queue

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Readable is anything Wait can watch: *Queue, *Of[T],
// *Joinable and *Pipe.
type Readable interface {
	readRing() *records
}

func (q *Queue) readRing() *records    { return q.q }
func (t *Of[T]) readRing() *records    { return t.q }
func (j *Joinable) readRing() *records { return j.q }
func (p *Pipe) readRing() *records     { return p.recv }

// readable reports whether a get would not wait: a committed message is at
// the head, or the ring is closed and drained. Records at the head already
// taken, freed or padding are skipped (head moves past them, as any
// consumer would), and a record whose writer died is freed after the
// recovery delay, as in takeReady.
func (q *records) readable() bool {
	if q == nil {
		return false
	}
	for range 64 {
		h, t := q.head.Load(), q.tail.Load()
		if h == t {
			return q.closed.Load() != 0
		}
		if h > t || t-h > q.cap || h%recAlign != 0 {
			if q.head.Load() != h {
				continue
			}
			return true // corrupt: a get reports it
		}
		w := q.state(h).Load()
		if q.head.Load() != h {
			continue
		}
		switch w & recStateMask {
		case recCommitted:
			return true
		case recClaimed:
			return q.takeReady() && q.state(h).Load()&recStateMask != recClaimed
		case recReading, recFree, recPad:
			s, err := q.span(h)
			if err != nil {
				return true
			}
			q.head.CompareAndSwap(h, h+s)
		default:
			return true
		}
	}
	return false
}

// Wait blocks until at least one of objs has a message to read (or is
// closed and drained, so that a read returns at once) and returns the
// indices of all that are ready, like Python's
// multiprocessing.connection.wait. It returns ctx's error when ctx is done
// first. Readiness is a snapshot: with other consumers on the same queue,
// a TryGet after Wait may still find it empty.
//
// It makes no system call when one is ready at once; otherwise each object
// is watched by a goroutine sleeping on its ring's event count, and the
// first wake-up cancels the others.
func Wait(ctx context.Context, objs ...Readable) ([]int, error) {
	if len(objs) == 0 {
		return nil, fmt.Errorf("wait: nothing to wait for: %w", ErrEmpty)
	}
	ready := func() []int {
		var r []int
		for i, o := range objs {
			if o.readRing().readable() {
				r = append(r, i)
			}
		}
		return r
	}
	if r := ready(); len(r) > 0 {
		return r, nil
	}
	for {
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, o := range objs {
			q := o.readRing()
			if q == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if q.notEmpty.WaitFor(wctx, q.takeRecheck, q.readable) == nil {
					cancel()
				}
			}()
		}
		wg.Wait()
		cancel()
		if r := ready(); len(r) > 0 {
			return r, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("wait: %w", err)
		}
	}
}

// WaitTimeout is Wait with a timeout instead of a context; it returns an
// empty list (and no error) when the time runs out.
func WaitTimeout(timeout time.Duration, objs ...Readable) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := Wait(ctx, objs...)
	if err != nil && ctx.Err() != nil {
		return nil, nil
	}
	return r, err
}
