package pool

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/forkless-go/forkless/queue"
)

// readyChan is what a *spawn.Process (Ready) and a *Future (Ready) have.
type readyChan interface {
	Ready() <-chan struct{}
}

// WaitAny waits until at least one of objs is ready and returns every one
// ready by then, in the order given: Python's
// multiprocessing.connection.wait over a mix of objects. An object is
//
//   - a *spawn.Process (ready once it has exited) or anything else with a
//     Ready() <-chan struct{} method, a *Future included (ready once done);
//   - a queue.Readable: *queue.Queue, *queue.Of, *queue.Joinable,
//     *queue.JoinableOf, *queue.Pipe, *queue.PipeOf, *queue.Conn (ready
//     when a read would not wait: a message is there, or it is closed and
//     drained);
//   - a context.Context or anything with a Done() <-chan struct{} method.
//
// It returns ctx's error when ctx ends first, nothing at once for no
// objects, and an error wrapping errors.ErrUnsupported for an object of
// another type. Waiting is idle-cheap: the channels are selected on and
// the queues sleep on their futexes (queue.Wait), with no polling loop of
// its own (under 1% of a core, TestWaitAnyIdleCost). Readiness is a
// snapshot, as in queue.Wait.
func WaitAny(ctx context.Context, objs ...any) ([]any, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	var chans []<-chan struct{}
	var rds []queue.Readable
	for _, o := range objs {
		switch o := o.(type) {
		case readyChan:
			chans = append(chans, o.Ready())
		case queue.Readable:
			rds = append(rds, o)
		case Awaitable:
			chans = append(chans, o.Done())
		default:
			return nil, fmt.Errorf("wait any: a %T cannot be waited for: %w", o, errors.ErrUnsupported)
		}
	}
	for {
		if r, err := readyNow(objs); len(r) > 0 || err != nil {
			return r, err
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("wait any: %w", err)
		}
		// Nothing ready when woken: a queue's message was taken by another
		// consumer first. Wait again.
		waitRound(ctx, chans, rds)
	}
}

// waitRound returns once ctx ends, one of chans is closed or one of rds
// may be ready.
func waitRound(ctx context.Context, chans []<-chan struct{}, rds []queue.Readable) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qdone := make(chan struct{})
	if len(rds) > 0 {
		go func() {
			defer close(qdone)
			queue.Wait(wctx, rds...) //nolint:errcheck // readyNow looks again
			cancel()
		}()
	} else {
		close(qdone)
	}
	cases := make([]reflect.SelectCase, 0, len(chans)+1)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(wctx.Done())})
	for _, c := range chans {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
	}
	reflect.Select(cases)
	cancel()
	<-qdone
}

// readyNow returns the objects of objs ready now, in order.
func readyNow(objs []any) ([]any, error) {
	var out []any
	var rds []queue.Readable
	var at []int
	for i, o := range objs {
		switch o := o.(type) {
		case readyChan:
			if closed(o.Ready()) {
				out = append(out, o)
			}
			continue
		case queue.Readable:
			rds, at = append(rds, o), append(at, i)
			continue
		case Awaitable:
			if closed(o.Done()) {
				out = append(out, o)
			}
		}
	}
	if len(rds) == 0 {
		return out, nil
	}
	done, cancel := context.WithCancel(context.Background())
	cancel() // look, do not wait: Wait reports what is ready before ctx
	idx, _ := queue.Wait(done, rds...)
	if len(idx) == 0 {
		return out, nil
	}
	ready := make(map[int]bool, len(idx))
	for _, i := range idx {
		ready[at[i]] = true
	}
	var merged []any
	for i, o := range objs {
		if ready[i] || containsObj(out, o) {
			merged = append(merged, o)
		}
	}
	return merged, nil
}

func containsObj(list []any, o any) bool {
	for _, x := range list {
		if x == o {
			return true
		}
	}
	return false
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
