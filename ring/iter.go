package ring

import (
	"context"
	"errors"
	"iter"
)

// popAll yields what pop returns until the ring is closed and drained
// (the loop ends quietly), ctx ends or a pop fails (that error is yielded
// once, as the last pair, with the zero value). Breaking out of the loop
// pops nothing more.
func popAll[T any](ctx context.Context, pop func(context.Context) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			v, err := pop(ctx)
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					var zero T
					yield(zero, err)
				}
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// All yields the ring's items as Pop returns them, until the ring is
// closed and drained (a quiet end), ctx ends or a Pop fails (that error is
// the last pair):
//
//	for v, err := range q.All(ctx) {
//		if err != nil {
//			return err
//		}
//		use(v)
//	}
func (q *SPSC[T]) All(ctx context.Context) iter.Seq2[T, error] { return popAll(ctx, q.Pop) }

// All yields the ring's items as Pop returns them (see SPSC.All).
func (q *MPMC[T]) All(ctx context.Context) iter.Seq2[T, error] { return popAll(ctx, q.Pop) }
