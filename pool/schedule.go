package pool

import (
	"errors"
	"fmt"
	"time"

	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
)

// Scheduling. Work is cut into tasks: a task is a run of consecutive items
// of one job (a Map, an Imap, a Submit). The parent keeps one FIFO of tasks
// not yet handed out and, per worker, the FIFO of tasks handed to it (in
// flight). A worker runs its tasks in order, so its results come back in
// the order of its in-flight FIFO: the parent needs no map from task id to
// task, only a check that the result names the head of the FIFO. Tasks go
// to the worker with the fewest in flight, at most depth per worker, where
// depth adapts to the measured task time (about 2 ms of queued work,
// between 2 and QueueDepth), so tiny tasks are pipelined and long ones do
// not queue behind each other.

// failure is an item that failed before it reached a worker, or with it.
type failure struct {
	job *Job
	i   int
	err error
}

// RunJob queues items [lo, hi) of job in tasks of chunk items: the
// Executor method Map, Imap and Submit call.
func (p *Pool) RunJob(job *Job, lo, hi, chunk int) error {
	p.mu.Lock()
	if err := p.acceptErr(); err != nil {
		p.mu.Unlock()
		return err
	}
	if job.id == 0 {
		p.nextJob++
		job.id = p.nextJob
		fid, ok := p.fids[job.fn]
		if !ok {
			fid = uint32(len(p.fids) + 1)
			p.fids[job.fn] = fid
		}
		job.fid = fid
	}
	p.queue = append(p.queue, &task{job: job, lo: lo, hi: hi, chunk: max(chunk, 1)})
	p.st.submitted.Add(int64(hi - lo))
	p.st.queued.Add(int64(hi - lo))
	fails := p.pumpTo(nil, min(2, p.depth()))
	p.mu.Unlock()
	p.deliverFailures(fails)
	p.wakeProgress()
	return nil
}

// acceptErr says why the pool takes no new work, or nil. Called with p.mu
// held.
func (p *Pool) acceptErr() error {
	switch p.state {
	case poolOpen:
		return nil
	case poolTerminated:
		return fmt.Errorf("submit to pool: %w", ErrTerminated)
	case poolBroken:
		return fmt.Errorf("submit to pool: %w", p.brokenErr)
	default:
		return fmt.Errorf("submit to pool: %w", ErrPoolClosed)
	}
}

// depth is how many tasks a worker may hold: about 2 ms of work, between 2
// (one running, one ready) and the configured depth. Called with p.mu held.
func (p *Pool) depth() int {
	d := p.cfg.depth
	if p.ewma > 0 {
		d = min(d, max(2, int(2e6/p.ewma)))
	} else {
		d = min(d, 2)
	}
	return d
}

// pick returns the worker that should get the next task, or nil. Called
// with p.mu held.
func (p *Pool) pick(depth int) *worker {
	var best *worker
	for _, w := range p.workers {
		if w == nil || w.gone || w.closing || w.heapFull {
			continue
		}
		n := len(w.inflight) - w.ihead
		if n >= depth || (p.cfg.maxTasks > 0 && w.sent >= p.cfg.maxTasks) {
			continue
		}
		if best == nil || n < len(best.inflight)-best.ihead {
			best = w
		}
	}
	return best
}

// pump hands queued tasks to workers while some has room. Called with p.mu
// held; failures it finds (an argument that cannot be encoded or placed)
// are returned for delivery outside the lock.
func (p *Pool) pump(fails []failure) []failure {
	return p.pumpTo(fails, p.depth())
}

// pumpTo is pump with workers filled to at most depth tasks. Submitters
// fill only to 2 (one running, one ready): the collectors fill the rest in
// batches, with one wake-up per batch rather than one per submission.
func (p *Pool) pumpTo(fails []failure, depth int) []failure {
	fails = p.pumpQueue(fails, depth)
	// Publish each worker's new tasks with one store and one wake-up.
	for _, w := range p.workers {
		if w != nil {
			p.publish(w)
		}
	}
	return fails
}

// pushAtOnce is the length of a task that is pushed to its worker as soon
// as it is encoded, rather than with the others at the end of a pump.
const pushAtOnce = 256

// publish pushes w's outbox to its task ring. Called with p.mu held.
func (p *Pool) publish(w *worker) {
	if len(w.outbox) == 0 {
		return
	}
	n, err := w.tasks.PushBatch(w.outbox)
	if err != nil || n != len(w.outbox) {
		// The ring holds depth slots and a worker never has more than
		// depth tasks in flight; only Close refuses, and closing workers
		// get no tasks. So the worker's region says otherwise because
		// something wrote there (a task of that worker, say): that
		// worker's failure, not the pool's.
		p.dropWorker(w)
		return
	}
	w.outbox = w.outbox[:0]
}

func (p *Pool) pumpQueue(fails []failure, depth int) []failure {
	now := time.Duration(-1) // read once, when a task is sent
	var moved int64          // items sent: queued to in flight, counted once at the end
	defer func() {
		if moved != 0 {
			p.st.queued.Add(-moved)
			p.st.inflight.Add(moved)
		}
	}()
	for p.qhead < len(p.queue) {
		t := p.queue[p.qhead]
		if t.job.cancelled.Load() {
			p.popQueue()
			p.st.queued.Add(-int64(t.hi - t.lo))
			p.st.cancelled.Add(int64(t.hi - t.lo))
			continue
		}
		w := p.pick(depth)
		if w == nil {
			return fails
		}
		if now < 0 {
			now = time.Since(p.epoch)
		}
		if k := p.groupSize(w, t, depth); k > 1 && p.sendGroup(w, t, k, now, &moved) {
			continue
		}
		if t.hi-t.lo > t.chunk {
			t = p.newTask(t.job, t.lo, t.lo+t.chunk, t.chunk, t.attempts)
			p.queue[p.qhead].lo += t.chunk
		} else {
			p.popQueue()
		}
		t.sent = now
		var ok bool
		fails, ok = p.send(w, t, fails, &moved)
		if !ok {
			p.pushFront(t) // the worker's heap is full: it will take it later, or another will
		} else if t.hi-t.lo >= pushAtOnce {
			// A long task goes out now: its worker starts on it while
			// the next one is encoded.
			p.publish(w)
		}
	}
	if p.qhead == len(p.queue) {
		p.queue, p.qhead = p.queue[:0], 0
	}
	return fails
}

func (p *Pool) popQueue() {
	p.queue[p.qhead] = nil
	p.qhead++
	if p.qhead >= 64 && p.qhead*2 >= len(p.queue) {
		n := copy(p.queue, p.queue[p.qhead:])
		clear(p.queue[n:])
		p.queue, p.qhead = p.queue[:n], 0
	}
}

// newTask returns a task, reusing a finished one when it can. Called with
// p.mu held.
func (p *Pool) newTask(j *Job, lo, hi, chunk, attempts int) *task {
	var t *task
	if n := len(p.taskFree); n > 0 {
		t = p.taskFree[n-1]
		p.taskFree = p.taskFree[:n-1]
	} else {
		t = new(task)
	}
	*t = task{job: j, lo: lo, hi: hi, chunk: chunk, attempts: attempts}
	return t
}

// freeTask keeps finished task t for reuse. Called with p.mu held.
func (p *Pool) freeTask(t *task) {
	if len(p.taskFree) < 4096 {
		*t = task{}
		p.taskFree = append(p.taskFree, t)
	}
}

// pushFront puts t back at the front of the queue (it was queued before
// everything there).
func (p *Pool) pushFront(t *task) {
	if p.qhead > 0 {
		p.qhead--
		p.queue[p.qhead] = t
		return
	}
	p.queue = append([]*task{t}, p.queue...)
}

// send encodes t's items into a descriptor and pushes it to w, adding
// their number to *moved. It returns false when w's heap has no room now
// (t was not sent). Called with p.mu held.
func (p *Pool) send(w *worker, t *task, fails []failure, moved *int64) ([]failure, bool) {
	j := t.job
	buf, err := p.encodeTask(w, t)
	if err != nil {
		for k := t.lo; k < t.hi; k++ {
			fails = append(fails, failure{j, k, fmt.Errorf("map %s: item %d: %w", j.fn, k, err)})
		}
		p.st.queued.Add(-int64(t.hi - t.lo))
		return fails, true
	}
	d := taskDesc{Job: j.id, Fid: j.fid, Count: uint32(t.hi - t.lo), Len: uint32(len(buf))}
	if !w.known[j.fid] {
		d.Flags |= flagName
	}
	if len(buf) <= len(d.Inline) {
		copy(d.Inline[:], buf)
	} else {
		var placed, sent bool
		if fails, placed, sent = p.placeArgs(w, t, buf, &d, fails); !placed {
			return fails, sent
		}
	}
	p.nextTask++
	d.ID, t.id, t.group = p.nextTask, p.nextTask, 0
	if d.Flags&flagHeap != 0 {
		d.Sum = taskSum(d, buf)
	} else {
		d.Sum = taskSum(d, nil)
	}
	w.outbox = append(w.outbox, d) // pushed at the end of pump
	if d.Flags&flagName != 0 {
		w.known[j.fid] = true
	}
	w.inflight = append(w.inflight, t)
	j.MarkRunning()
	w.sent++
	*moved += int64(t.hi - t.lo)
	return fails, true
}

// dropWorker stops handing tasks to w and kills it: its region holds what
// this process did not write. Its exit (onExit) deals with the tasks it
// held as with any death: the running item fails (or runs again), the
// others go back to the queue, and a new worker takes its place. Called
// with p.mu held.
func (p *Pool) dropWorker(w *worker) {
	w.closing = true
	w.outbox = w.outbox[:0]
	w.proc.Kill()
}

// encodeTask encodes t's argument payload into p.scratch: the function's
// name when w does not know it yet, then each item length-prefixed.
func (p *Pool) encodeTask(w *worker, t *task) ([]byte, error) {
	return p.encodeItems(w, t.job, t.lo, t.hi)
}

// encodeItems encodes items [lo, hi) of j as encodeTask does.
func (p *Pool) encodeItems(w *worker, j *Job, lo, hi int) ([]byte, error) {
	buf := p.scratch[:0]
	if !w.known[j.fid] {
		buf = wire.AppendString(buf, j.fn)
	}
	if b, ok := j.ops.(batchOps); ok {
		buf, err := b.appendArgs(buf, lo, hi)
		p.scratch = buf[:0]
		if err != nil {
			return nil, err
		}
		return buf, nil
	}
	for i := lo; i < hi; i++ {
		// One byte for the length, widened by fixLength when the argument
		// is 128 bytes or more: a fixed-size argument is encoded in place.
		at := len(buf)
		buf = append(buf, 0)
		var err error
		if buf, err = j.ops.appendArg(buf, i); err != nil {
			p.scratch = buf[:0]
			return nil, err
		}
		buf = fixLength(buf, at)
	}
	p.scratch = buf[:0]
	return buf, nil
}

// placeArgs copies an argument payload too large for the descriptor into
// w's heap. When it cannot, placed is false and sent is what send returns:
// false to retry t later (w's in-flight tasks will free room), true when t
// was dealt with (halved and requeued, or failed as too large).
func (p *Pool) placeArgs(w *worker, t *task, buf []byte, d *taskDesc, fails []failure) (_ []failure, placed, sent bool) {
	j := t.job
	off, err := w.heap.Alloc(int64(len(buf)))
	if err != nil {
		if errors.Is(err, shm.ErrCorrupt) {
			// The heap's bookkeeping, which the worker shares, was written
			// to: that worker's failure, not the item's. t goes to another.
			p.dropWorker(w)
			return fails, false, false
		}
		if errors.Is(err, shm.ErrNoSpace) && len(w.inflight) > w.ihead {
			w.heapFull = true // its in-flight tasks will free room
			return fails, false, false
		}
		if t.hi-t.lo > 1 {
			// Halve the task and try again.
			mid := t.lo + (t.hi-t.lo)/2
			p.pushFront(&task{job: j, lo: mid, hi: t.hi, chunk: t.hi - mid, attempts: t.attempts})
			p.pushFront(&task{job: j, lo: t.lo, hi: mid, chunk: mid - t.lo, attempts: t.attempts})
			return fails, false, true
		}
		p.st.queued.Add(-1)
		return append(fails, failure{j, t.lo, fmt.Errorf("%s: argument %d of %d bytes: %v: %w",
			j.fn, t.lo, len(buf), err, ErrTooLarge)}), false, true
	}
	b, err := w.heap.Bytes(off, int64(len(buf)))
	if err != nil {
		// The worker shares the heap's bookkeeping: a block it gave out
		// of range means its region was written to. t goes to another
		// worker.
		p.dropWorker(w)
		return fails, false, false
	}
	copy(b, buf)
	d.Flags |= flagHeap
	d.Off = off
	return fails, true, true
}
