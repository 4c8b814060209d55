package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/registry"
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// serve runs one descriptor's task (or group of one-item tasks,
// flagGroup), started at start (since w.epoch), and adds its results to
// the pending ones, one result descriptor for a group; it returns when it
// ended. An error here is a broken protocol (a descriptor naming bytes
// outside the heap): the worker exits and the parent fails the task.
func (w *workerLoop) serve(d *taskDesc, start time.Duration) (time.Duration, error) {
	payload, err := w.taskPayload(d)
	if err != nil {
		return start, err
	}
	r := wire.NewReader(payload, errChunk)
	e, err := w.function(d, &r)
	if err != nil {
		return start, err
	}
	group := d.Flags&flagGroup != 0
	if group && (d.Count < 2 || d.Count > groupMax) {
		return start, fmt.Errorf("pool worker: task %d: group of %d: %w", d.ID, d.Count, errChunk)
	}
	w.out = w.out[:0]
	// One store per task for the task's identity; per item only seq moves
	// (two stores), and the item's index follows from it. This worker is
	// the only writer of the four words, so each is a release store
	// (control.go): a plain MOV on amd64, where an atomic store or add is
	// a full barrier, five per item of a one-item task.
	mapped.StoreRelease(w.taskW, d.ID)
	mapped.StoreRelease(w.jobW, d.Job)
	mapped.StoreRelease(w.baseW, w.seq)
	for i := range d.Count {
		if group && i > 0 {
			// Item i of a group is task d.ID+i (flagGroup, group.go):
			// its own identity in the control block while it runs.
			mapped.StoreRelease(w.taskW, d.ID+uint64(i))
			mapped.StoreRelease(w.baseW, w.seq)
		}
		arg := r.Bytes()
		if err := r.Err(); err != nil {
			return start, fmt.Errorf("pool worker: task %d: %w", d.ID, err)
		}
		if w.isCancelled(d.Job) {
			w.out = append(w.out, itemSkipped)
			w.setSeq(w.seq + 2) // keeps (seq-1-base)/2 the item's index
			continue
		}
		if w.stopping.Load() {
			// SIGTERM: stop before the next item. The task stays
			// unpublished, so the parent hands it out again (or drops it,
			// when it is what was cancelled).
			return start, errStopping
		}
		w.setSeq(w.seq + 1) // odd: publishes task, job, base: "item (seq-1-base)/2 of task d.ID is running"
		w.out = w.runItem(e, arg, w.out)
		w.setSeq(w.seq + 1) // even: the item returned
	}
	if d.Flags&flagHeap != 0 {
		w.heap.Free(d.Off) // the argument is ours to free once read
	}
	end := time.Since(w.epoch)
	res := resultDesc{ID: d.ID, Nanos: uint64(end - start)}
	if err := w.place(&res); err != nil {
		return end, err
	}
	if res.Flags&flagHeap != 0 {
		res.Sum = resultSum(res, w.out)
	} else {
		res.Sum = resultSum(res, nil)
	}
	if len(w.pending) == 0 {
		w.pendingSince = start
	}
	w.pending = append(w.pending, res)
	return end, nil
}

// setSeq stores the worker's item sequence (control.seq).
func (w *workerLoop) setSeq(v uint64) {
	w.seq = v
	mapped.StoreRelease(w.seqW, v)
}

// taskPayload returns the bytes of d's argument payload: a private copy
// when it is in the heap (the running items may write to the region),
// checked with d against d.Sum.
func (w *workerLoop) taskPayload(d *taskDesc) ([]byte, error) {
	var payload []byte
	if d.Flags&flagHeap != 0 {
		b, err := w.heap.Bytes(d.Off, int64(d.Len))
		if err != nil {
			return nil, fmt.Errorf("pool worker: task %d: %w", d.ID, err)
		}
		payload = append(w.arg[:0], b...)
		w.arg = payload
	}
	if taskSum(*d, payload) != d.Sum {
		return nil, fmt.Errorf("pool worker: task %d: %w", d.ID, errSum)
	}
	if payload != nil {
		return payload, nil
	}
	if d.Len > uint32(len(d.Inline)) {
		return nil, fmt.Errorf("pool worker: task %d: inline payload of %d bytes: %w", d.ID, d.Len, errChunk)
	}
	return d.Inline[:d.Len], nil
}

// function returns the function d runs, reading its name from the payload
// the first time it is told (flagName). A name this binary does not know
// becomes a function that fails every item with ErrNotRegistered.
func (w *workerLoop) function(d *taskDesc, r *wire.Reader) (*registry.Entry, error) {
	if d.Flags&flagName != 0 {
		name := r.String()
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("pool worker: task %d: %w", d.ID, err)
		}
		e, ok := registry.Lookup(name)
		if !ok {
			e = &registry.Entry{Name: name, AppendRun: func(_ context.Context, _, dst []byte) ([]byte, error) {
				return dst, fmt.Errorf("function %s is not registered in the worker: register it at "+
					"package scope, before spawn.Main runs: %w", name, spawn.ErrNotRegistered)
			}}
		}
		w.funcs[d.Fid] = e
	}
	e := w.funcs[d.Fid]
	if e == nil {
		return nil, fmt.Errorf("pool worker: task %d names unknown function %d: %w", d.ID, d.Fid, errChunk)
	}
	return e, nil
}

// runItem runs one item, turning a panic into a failed record with the
// worker's stack.
func (w *workerLoop) runItem(e *registry.Entry, arg []byte, out []byte) (res []byte) {
	start := len(out)
	defer func() {
		if v := recover(); v != nil {
			res = appendFailed(out[:start], wire.PanicBody(v, debug.Stack()))
		}
	}()
	// The result is appended in place, after its status and a one-byte
	// length that is widened afterwards if the result is 128 bytes or more:
	// a fixed-size result costs no allocation.
	out = append(out, itemOK, 0)
	out, err := e.AppendRun(w.ctx, arg, out)
	if err != nil {
		return appendFailed(out[:start], wire.BodyOf(err))
	}
	return fixLength(out, start+1)
}

// place puts the result payload inline or in the heap. The heap may be full
// of results the parent has not freed yet: wait while the parent still has
// results to read. A payload that does not fit even then is replaced by
// flagTooLarge, which fails every item of the task with ErrTooLarge.
func (w *workerLoop) place(res *resultDesc) error {
	if len(w.out) <= len(res.Inline) {
		res.Len = uint32(copy(res.Inline[:], w.out))
		return nil
	}
	for idle := 0; idle < 200; {
		off, err := w.heap.Alloc(int64(len(w.out)))
		if err == nil {
			b, err := w.heap.Bytes(off, int64(len(w.out)))
			if err != nil {
				return fmt.Errorf("pool worker: %w", err)
			}
			copy(b, w.out)
			res.Flags, res.Off, res.Len = flagHeap, off, uint32(len(w.out))
			return nil
		}
		if errors.Is(err, shm.ErrSize) {
			break
		}
		if !errors.Is(err, shm.ErrNoSpace) {
			return fmt.Errorf("pool worker: %w", err)
		}
		w.flush() // the parent frees only what it was given
		if w.results.Len() == 0 {
			idle++ // the parent has read every result: only its frees can still come
		}
		time.Sleep(500 * time.Microsecond)
	}
	res.Flags, res.Len = flagTooLarge, uint32(len(w.out))
	return nil
}
