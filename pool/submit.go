package pool

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/spawn"
)

// Apply runs f(arg) on ex (one of a *Pool's workers) and returns its
// result, like Python's Pool.apply. When ctx ends, the task is cancelled.
func Apply[A, R any](ctx context.Context, ex Executor, f *spawn.Func[A, R], arg A) (R, error) {
	fu := submit(ctx, ex, f, arg)
	r, err := fu.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		fu.Cancel()
	}
	return r, err
}

// Submit queues f(arg) on ex and returns its future at once, like Python's
// apply_async and ProcessPoolExecutor.submit. An error (the pool is
// closed, say) is the future's.
func Submit[A, R any](ex Executor, f *spawn.Func[A, R], arg A) *Future[R] {
	return submit(context.Background(), ex, f, arg)
}

// submit is Submit under ctx, whose deadline the job carries (Apply's).
func submit[A, R any](ctx context.Context, ex Executor, f *spawn.Func[A, R], arg A) *Future[R] {
	fu := newFuture[R](ex)
	if err := f.Err(); err != nil {
		var zero R
		fu.complete(zero, fmt.Errorf("submit: %w", err))
		return fu
	}
	sj := &submitJob[A, R]{arg: arg, fu: fu}
	initJob(ctx, &sj.Job, f, sj)
	sj.ac, sj.rc = codecs(f)
	fu.job = &sj.Job
	if err := ex.RunJob(fu.job, 0, 1, 1); err != nil {
		var zero R
		fu.complete(zero, fmt.Errorf("submit %s: %w", f.Name(), err))
	}
	return fu
}

// submitJob is the typed side of a Submit.
type submitJob[A, R any] struct {
	Job
	arg A
	ac  wire.Value[A]
	rc  wire.Value[R]
	fu  *Future[R]
}

func (s *submitJob[A, R]) appendArg(dst []byte, _ int) ([]byte, error) {
	return s.ac.Append(dst, &s.arg)
}

func (s *submitJob[A, R]) deliver(_ int, value []byte, err error) {
	var v R
	if err == nil {
		if derr := s.rc.Decode(value, &v, errChunk); derr != nil {
			err = decodeErr(s.fn, derr)
		}
	}
	s.fu.complete(v, err)
}
