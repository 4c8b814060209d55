package queue

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

// JoinableOf is a Joinable of values of T, as Of is a Queue of them:
// Python's JoinableQueue with any object, typed. Put counts a task, Get
// decodes, TaskDone and Join are Joinable's.
type JoinableOf[T any] struct {
	_ recNoCopy
	*Joinable
	of *Of[T]
}

// NewJoinableOf allocates a typed joinable queue in r. codec may be nil:
// RawCodec for a fixed-size, pointer-free T, GobCodec otherwise.
func NewJoinableOf[T any](r *shm.Region, c Config, codec Codec[T]) (*JoinableOf[T], error) {
	codec = defaultCodec(codec)
	elem, typ := codecFingerprint(codec)
	r, undo, err := ownRegion(r, c)
	if err != nil {
		return nil, fmt.Errorf("new joinable queue of %T: %w", *new(T), err)
	}
	q, err := newQueueRecords(r, c, recFlagJoinable, elem, typ)
	if err != nil {
		undo()
		return nil, fmt.Errorf("new joinable queue of %T: %w", *new(T), err)
	}
	of, err := newQueueOf(q, codec)
	if err != nil {
		return nil, err
	}
	return &JoinableOf[T]{Joinable: joinable(q), of: of}, nil
}

// OpenJoinableOf binds a queue made by NewJoinableOf with the same T and
// codec (nil for the default).
func OpenJoinableOf[T any](h shm.Handle, codec Codec[T]) (*JoinableOf[T], error) {
	of, err := OpenOf(h, codec)
	if err != nil {
		return nil, err
	}
	if of.q.h.flags&recFlagJoinable == 0 {
		return nil, fmt.Errorf("open joinable queue of %T: made by NewOf: %w", *new(T), shm.ErrKind)
	}
	return &JoinableOf[T]{Joinable: joinable(of.q), of: of}, nil
}

// Put appends v and counts one more unfinished task.
func (j *JoinableOf[T]) Put(ctx context.Context, v T) error {
	j.unfinished.Add(1)
	if err := j.of.put(ctx, v); err != nil {
		j.done()
		return err
	}
	return nil
}

// TryPut is Put that fails with ErrFull instead of waiting.
func (j *JoinableOf[T]) TryPut(v T) error {
	j.unfinished.Add(1)
	if err := j.of.tryPut(v); err != nil {
		j.done()
		return err
	}
	return nil
}

// Get removes and decodes the next value; call TaskDone when done with it.
func (j *JoinableOf[T]) Get(ctx context.Context) (T, error) { return j.of.Get(ctx) }

// TryGet is Get that fails with ErrEmpty instead of waiting.
func (j *JoinableOf[T]) TryGet() (T, error) { return j.of.TryGet() }
