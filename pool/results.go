package pool

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// A collector handles a batch of results in two passes: it counts every
// task's items first (takeResult), adds the counts to the pool's
// statistics once, then delivers (deliverTaken). The counters are shared
// by every collector and submitter on one cache line: six atomic adds per
// task there cost a one-item task more than its decoding (issue 14). The
// counts must be right before the deliveries they count, the last of
// which may end a Map whose caller reads Stats at once; so a result whose
// payload sits in the collector's scratch buffer, which the next one
// would overwrite, ends a pass early.

// tally is what a pass of results adds to the pool's counters.
type tally struct{ inflight, done, failed, cancelled int64 }

// add adds t to the pool's counters, skipping the zeros.
func (p *Pool) add(t tally) {
	for _, c := range [...]struct {
		v int64
		w *atomic.Int64
	}{{-t.inflight, &p.st.inflight}, {t.done, &p.st.done}, {t.failed, &p.st.failed}, {t.cancelled, &p.st.cancelled}} {
		if c.v != 0 {
			c.w.Add(c.v)
		}
	}
}

// taken is a task's result payload, counted and not yet delivered.
type taken struct {
	payload   []byte   // the records takeOK did not take
	fast      int      // items takeOK decoded
	parsed    int      // records parsed after them
	perr      error    // why the records after those are not to be had
	batch     batchOps // the job, when it decodes whole tasks
	deliver   bool     // false: cancelled, or handed to corruptResult
	corrupt   bool     // handed to corruptResult: nothing of d is touched again
	inScratch bool     // payload lies in the collector's scratch buffer
}

// takeResult reads the results of task t, which d finished (finishHead
// took it off w's in-flight FIFO), and counts them into c.
func (p *Pool) takeResult(w *worker, t *task, d *resultDesc, scratch *[]byte, c *tally) taken {
	n := t.hi - t.lo
	payload, perr := p.resultPayload(w, t, d, scratch)
	if errors.Is(perr, errSum) {
		p.corruptResult(w, t)
		return taken{corrupt: true}
	}
	r := taken{inScratch: d.Flags&flagHeap != 0 && perr == nil}
	c.inflight += int64(n)
	if t.job.cancelled.Load() {
		c.cancelled += int64(n)
		return r
	}
	r.deliver = true
	// A job that decodes whole tasks takes the leading successful items
	// first (batch.go); the records after them are parsed one by one.
	if perr == nil {
		if b, ok := t.job.ops.(batchOps); ok {
			r.batch = b
			r.fast, payload = b.takeOK(payload, t.lo, n)
		}
	}
	okN, skipN := r.fast, 0
	if perr == nil && r.fast < n {
		perr = parseResults(payload, n-r.fast, func(i int, it itemResult) {
			r.parsed++
			switch it.status {
			case itemOK:
				okN++
			case itemSkipped:
				skipN++
			}
		})
	}
	r.payload, r.perr = payload, perr
	c.done += int64(okN)
	c.failed += int64(n - okN - skipN)
	c.cancelled += int64(skipN)
	return r
}

// deliverTaken delivers what takeResult read of task t's results, once
// they are counted, and frees d's payload.
func (p *Pool) deliverTaken(w *worker, t *task, d *resultDesc, r taken) {
	if r.corrupt {
		return
	}
	if r.deliver {
		p.deliverResults(w, t, r.fast, r.payload, r.parsed, r.perr)
		if r.batch != nil {
			r.batch.settle(r.fast)
		}
	}
	if d.Flags&flagHeap != 0 {
		w.heap.Free(d.Off)
	}
}

// finishHead pops the head of w's in-flight FIFO, which d must name, and
// folds d's time into the task time estimate; for the first task of a
// group (group.go) it pops the group's other tasks too, and returns the
// first standing for all of them (their items are consecutive). ok is
// false when there is nothing to deliver: Terminate already failed
// everything in flight (d's payload is freed), or d names another task
// (the worker broke the protocol; its memory is not ours to trust: it is
// killed, and its exit fails or requeues its tasks as for any death).
// It records the task's run time and its latency (now is when d came in).
// Called with p.mu held.
func (p *Pool) finishHead(w *worker, d *resultDesc, now time.Duration) (_ *task, ok bool) {
	if w.ihead == len(w.inflight) {
		if d.Flags&flagHeap != 0 {
			w.heap.Free(d.Off)
		}
		return nil, false
	}
	t := w.inflight[w.ihead]
	k := max(t.group, 1) // tasks d answers for (flagGroup, group.go)
	if t.id != d.ID || len(w.inflight)-w.ihead < k {
		w.proc.Kill()
		return nil, false
	}
	// A group's tasks were sent together and ran one after the other:
	// each is counted with the same latency and an equal share of the time.
	nanos := int64(min(d.Nanos, 1<<62) / uint64(k))
	p.runTime.addN(nanos, k)
	p.latency.addN(int64(now-t.sent), k)
	if ns := float64(nanos); p.ewma == 0 {
		p.ewma = ns
	} else {
		p.ewma += (ns - p.ewma) / 8
	}
	w.inflight[w.ihead] = nil
	for i := 1; i < k; i++ {
		// A group's tasks are consecutive items of one job (sendGroup):
		// the first stands for all of them from here on.
		m := w.inflight[w.ihead+i]
		w.inflight[w.ihead+i] = nil
		t.hi = m.hi
		p.freeTask(m)
	}
	w.delivered += int64(t.hi - t.lo)
	w.ihead += k
	if w.ihead == len(w.inflight) {
		w.inflight, w.ihead = w.inflight[:0], 0
	} else if w.ihead >= 64 && w.ihead*2 >= len(w.inflight) {
		n := copy(w.inflight, w.inflight[w.ihead:])
		clear(w.inflight[n:])
		w.inflight, w.ihead = w.inflight[:n], 0
	}
	w.heapFull = false
	return t, true
}

// resultPayload returns the bytes of d's result payload, or why they are
// not to be had. A payload in the heap is copied into *scratch first, and
// checked there with d against d.Sum (errSum): the worker's region may
// change under the parent, the copy cannot.
func (p *Pool) resultPayload(w *worker, t *task, d *resultDesc, scratch *[]byte) ([]byte, error) {
	var payload []byte
	if d.Flags&flagHeap != 0 && d.Flags&flagTooLarge == 0 {
		b, err := w.heap.Bytes(d.Off, int64(d.Len))
		if err != nil {
			return nil, fmt.Errorf("result payload: %w: %w", err, errSum)
		}
		payload = append((*scratch)[:0], b...)
		*scratch = payload
	}
	if resultSum(*d, payload) != d.Sum {
		return nil, fmt.Errorf("result of task %d: %w", d.ID, errSum)
	}
	switch {
	case d.Flags&flagTooLarge != 0:
		return nil, fmt.Errorf("%s: results of %d bytes: %w", t.job.fn, d.Len, ErrTooLarge)
	case d.Flags&flagHeap != 0:
		return payload, nil
	case d.Len <= uint32(len(d.Inline)):
		return d.Inline[:d.Len], nil
	default:
		return nil, fmt.Errorf("inline result of %d bytes: %w", d.Len, errChunk)
	}
}

// corruptResult handles task t of w, whose result failed its checksum:
// w's region was written to, so w is killed (its exit requeues what else it
// held), and t runs again while Retries allow, or fails with ErrCorrupt.
func (p *Pool) corruptResult(w *worker, t *task) {
	n := int64(t.hi - t.lo)
	w.proc.Kill()
	p.mu.Lock()
	p.st.inflight.Add(-n)
	var fails []failure
	switch {
	case t.job.cancelled.Load():
		p.st.cancelled.Add(n)
	case t.attempts < p.cfg.retries:
		p.st.retried.Add(n)
		p.requeue(&task{job: t.job, lo: t.lo, hi: t.hi, chunk: t.chunk, attempts: t.attempts + 1})
	default:
		err := fmt.Errorf("pool worker %d: results of %s: %w", w.proc.Pid(), t.job.fn, errSum)
		for i := t.lo; i < t.hi; i++ {
			fails = append(fails, failure{t.job, i, err})
		}
	}
	p.mu.Unlock()
	p.deliverFailures(fails)
}

// deliverResults delivers the first parsed records of payload, the
// results of t's items from from on, and perr to the items after them.
func (p *Pool) deliverResults(w *worker, t *task, from int, payload []byte, parsed int, perr error) {
	j := t.job
	lo := t.lo + from
	if parsed > 0 {
		parseResults(payload, parsed, func(i int, it itemResult) {
			switch it.status {
			case itemOK:
				j.ops.deliver(lo+i, it.value, nil)
			case itemSkipped:
				// Only a cancelled job's items are skipped; should one of a
				// live job be, it must still be delivered, or its Map would
				// wait forever.
				j.ops.deliver(lo+i, nil, fmt.Errorf("pool worker %d skipped the item: %w", w.proc.Pid(), context.Canceled))
			default:
				j.ops.deliver(lo+i, nil, childError(w.proc.Pid(), j.fn, w.proc.Name(), it.err))
			}
		})
	}
	for i := from + parsed; i < t.hi-t.lo; i++ {
		j.ops.deliver(t.lo+i, nil, fmt.Errorf("pool worker %d: %w", w.proc.Pid(), perr))
	}
}

// deliverFailures delivers items that failed without a result, outside
// p.mu.
func (p *Pool) deliverFailures(fails []failure) {
	for _, f := range fails {
		if f.job.cancelled.Load() {
			p.st.cancelled.Add(1)
			continue
		}
		p.st.failed.Add(1)
		f.job.ops.deliver(f.i, nil, f.err)
	}
	if len(fails) > 0 {
		p.signalChange()
	}
}
