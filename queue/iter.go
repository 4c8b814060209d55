package queue

import (
	"context"
	"errors"
	"iter"
)

// The range-over-func forms: each receives until the queue or pipe is
// closed and drained, or ctx ends, or a get fails. A closed and drained
// queue ends the loop quietly; any other error is yielded once, as the
// last pair (with the zero value), so that
//
//	for msg, err := range q.All(ctx) {
//		if err != nil {
//			return err // ctx's error, ErrCorrupt, a peer that died...
//		}
//		use(msg)
//	}
//
// sees every message and the reason the loop ended. Breaking out of the
// loop takes nothing more from the queue.

// receive adapts a get function into such a sequence.
func receive[T any](ctx context.Context, get func(context.Context) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			v, err := get(ctx)
			if err != nil {
				if !errors.Is(err, ErrClosed) || errors.Is(err, ErrPeerDied) {
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

// All yields the queue's messages as Get returns them (see above).
func (q *Queue) All(ctx context.Context) iter.Seq2[[]byte, error] { return receive(ctx, q.Get) }

// All yields the queue's values as Get returns them (see above).
func (t *Of[T]) All(ctx context.Context) iter.Seq2[T, error] { return receive(ctx, t.Get) }

// All yields the queue's messages as Get returns them (see above). Each
// is a task: call TaskDone when it is done, as after Get.
func (j *Joinable) All(ctx context.Context) iter.Seq2[[]byte, error] { return receive(ctx, j.Get) }

// All yields the queue's values as Get returns them (see above). Each is
// a task: call TaskDone when it is done, as after Get.
func (j *JoinableOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return receive(ctx, j.Get) }

// All yields the messages this end receives, as Recv returns them (see
// above). The sender's death ends the loop with ErrPeerDied once what it
// sent is drained.
func (p *Pipe) All(ctx context.Context) iter.Seq2[[]byte, error] { return receive(ctx, p.Recv) }

// All yields the values this end receives, as Recv returns them (see
// above).
func (t *PipeOf[T]) All(ctx context.Context) iter.Seq2[T, error] { return receive(ctx, t.Recv) }
