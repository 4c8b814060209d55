package spawn

import (
	"context"
	"fmt"
	"reflect"
)

// Waitable is anything WaitAny can wait for: Ready returns a channel that is
// closed once the object is ready (a process has exited; later, a queue or
// pipe has data). *Process[R] implements it.
type Waitable interface {
	Ready() <-chan struct{}
}

// WaitAny waits until at least one of objs is ready and returns every one
// that is ready by then, in the order given, like Python's
// multiprocessing.connection.wait. It returns ctx's error if ctx ends first,
// and at once with no objects when objs is empty.
func WaitAny(ctx context.Context, objs ...Waitable) ([]Waitable, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	ready := func() []Waitable {
		var out []Waitable
		for _, o := range objs {
			select {
			case <-o.Ready():
				out = append(out, o)
			default:
			}
		}
		return out
	}
	if r := ready(); len(r) > 0 {
		return r, nil
	}
	cases := make([]reflect.SelectCase, 0, len(objs)+1)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for _, o := range objs {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(o.Ready())})
	}
	if i, _, _ := reflect.Select(cases); i == 0 {
		return nil, fmt.Errorf("wait for processes: %w", ctx.Err())
	}
	return ready(), nil
}
