package queue

import (
	"context"
	"fmt"
	"github.com/forkless-go/forkless/internal/event"
	"sync/atomic"

	"github.com/forkless-go/forkless/shm"
)

// Joinable is a Queue that also counts unfinished tasks, like
// Python's Joinable: every Put adds one, every TaskDone removes one,
// and Join waits until the count is zero.
//
// The count (the ring header's unfinished word) is incremented before the
// message is put, so a consumer can never finish a task before it was
// counted; a Put that fails takes its increment back. A consumer that dies
// between Get and TaskDone leaves its task unfinished forever: Join then
// waits until its context is done (Python's join hangs for good).
type Joinable struct {
	_          recNoCopy
	q          *records
	unfinished *atomic.Uint64
	joined     event.Count
}

// NewJoinable allocates a joinable queue in r.
func NewJoinable(r *shm.Region, c Config) (*Joinable, error) {
	r, undo, err := ownRegion(r, c)
	if err != nil {
		return nil, fmt.Errorf("new joinable queue: %w", err)
	}
	q, err := newQueueRecords(r, c, recFlagJoinable, 0, 0)
	if err != nil {
		undo()
		return nil, fmt.Errorf("new joinable queue: %w", err)
	}
	return joinable(q), nil
}

// OpenJoinable binds a queue made by NewJoinable.
func OpenJoinable(h shm.Handle) (*Joinable, error) {
	q, err := openRecords(h)
	if err != nil {
		return nil, err
	}
	if q.h.flags&recFlagJoinable == 0 {
		return nil, fmt.Errorf("open joinable queue: made by New: %w", shm.ErrKind)
	}
	return joinable(q), nil
}

func joinable(q *records) *Joinable {
	return &Joinable{
		q:          q,
		unfinished: &q.h.unfinished,
		joined:     q.h.joined.Count(),
	}
}

// Handle names the queue for OpenJoinable in another process.
func (j *Joinable) Handle() shm.Handle { return j.q.b.Handle() }

// Put appends msg and counts one more unfinished task.
func (j *Joinable) Put(ctx context.Context, msg []byte) error {
	j.unfinished.Add(1)
	if err := j.q.putBytes(ctx, msg); err != nil {
		j.done()
		return err
	}
	return nil
}

// TryPut is Put that fails with ErrFull instead of waiting.
func (j *Joinable) TryPut(msg []byte) error {
	j.unfinished.Add(1)
	if err := j.q.tryPutBytes(msg); err != nil {
		j.done()
		return err
	}
	return nil
}

// Get removes the next message (see Queue.Get). Call TaskDone when done
// with it.
func (j *Joinable) Get(ctx context.Context) ([]byte, error) {
	return j.q.getAppend(ctx, nil)
}

// TryGet is Get that fails with ErrEmpty instead of waiting.
func (j *Joinable) TryGet() ([]byte, error) { return j.q.tryGetAppend(nil) }

// TaskDone marks one task finished. It fails with ErrTaskDone when no task
// is unfinished.
func (j *Joinable) TaskDone() error {
	for range maxSteps {
		n := j.unfinished.Load()
		if n == 0 {
			return fmt.Errorf("task done: %w", ErrTaskDone)
		}
		// The CAS hands the decrement to Join; reaching zero notifies it.
		if j.unfinished.CompareAndSwap(n, n-1) {
			if n == 1 {
				j.joined.Notify()
			}
			return nil
		}
	}
	return fmt.Errorf("task done: the count changed under each of %d tries: %w", maxSteps, ErrCorrupt)
}

func (j *Joinable) done() {
	if j.unfinished.Add(^uint64(0)) == 0 {
		j.joined.Notify()
	}
}

// Join waits until every message put has been marked done, or ctx is done.
func (j *Joinable) Join(ctx context.Context) error {
	if err := j.joined.Wait(ctx, func() bool { return j.unfinished.Load() == 0 }); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	return nil
}

// Unfinished reports the tasks put and not yet marked done.
func (j *Joinable) Unfinished() int { return int(j.unfinished.Load()) }

// Len reports the messages queued (see Queue.Len).
func (j *Joinable) Len() int { return j.q.len() }

// Cap returns the ring's data capacity in bytes.
func (j *Joinable) Cap() int { return int(j.q.cap) }

// Close closes the queue for every process (see Queue.Close).
func (j *Joinable) Close() error { return j.q.close() }
