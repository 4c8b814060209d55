package pool

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	ierrs "github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/spawn"
)

// Worker exit. The parent always knows which task each worker holds:
//
//  1. When it starts task N, the worker stores N and the current seq in its
//     control block; before running each item it makes the block's seq word
//     odd, and even again after the item returns, so item k of N runs while
//     seq is base+2k+1. (Stores before the odd seq store are visible to
//     whoever sees seq odd.)
//  2. When a worker process ends for any reason (SIGKILL, the OOM killer,
//     os.Exit, a runtime crash, its time limit), the parent's reaper closes
//     the worker's result ring. The worker's collector drains the results it
//     published before dying (those tasks are complete), then finds the ring
//     closed and handles the exit (onExit) with nothing racing it.
//  3. If seq is odd, the task the block names is looked up in the worker's
//     in-flight FIFO, wherever it is there: not necessarily at its head,
//     since the worker publishes results in batches and the tasks before
//     the running one may be done but unpublished. Item k of that task was
//     running: it fails with a *WorkerError naming the pid and the signal or
//     exit code (or ErrTimeout when the watchdog killed it), or it is run
//     again when the pool has Retries left for it. Every other item in
//     flight goes back to the front of the queue, in order: the items
//     before k and the tasks before it (done, but their results were never
//     published) and the items and tasks after it (merely queued). A worker
//     that died between items (seq even) held no running item: all its
//     tasks go back. A block that names a task not in flight, or an item
//     past its task's end, was scribbled on (by a task, say): that is the
//     worker's failure, and every task it held counts an attempt (run
//     again while Retries allow, failed with ErrCorrupt after).
//  4. A new worker starts in the dead one's place and the pool goes on.
//
// So one death fails at most one item, never the pool. (Python's Pool hangs
// forever here; ProcessPoolExecutor fails every pending task and breaks.)
//
// An initializer that fails, or workers that keep failing to start, break
// the pool: every pending item fails with that error (ErrInitializer for
// an initializer) and so does every later submission, instead of Python's
// endless restarts. "Keep failing to start" is three deaths before ready
// in a row, with no live worker ready at any of them, of workers that
// exited on their own or crashed (a binary that does not call spawn.Main,
// a crash at start). A worker killed before ready by SIGKILL or SIGTERM
// was killed from outside (a user, the OOM killer): that says nothing
// about the binary, so it never counts. Every worker that died before
// ready and does not break the pool is replaced after a pause, startDelay
// of its slot's deaths before ready in a row (5 ms doubling to 1 s; a
// worker of the slot that dies ready resets it): a kill storm, or a slot
// whose starts keep failing while another worker serves, costs no hot
// restart loop.

// deathScene is what a dead worker's control block says it was doing.
type deathScene struct {
	code    int    // exit code, as Python reports it
	exitErr error  // what Wait returned
	ready   bool   // the worker's initializer had succeeded
	seq     uint64 // odd: an item was running
	running uint64 // the task that was running, when seq is odd
	base    uint64 // seq when that task started
}

// Where a dead worker's running item is, in its in-flight FIFO.
const (
	sceneIdle    = iota // no item was running (seq even)
	sceneRunning        // item item of inflight[k] was running
	sceneCorrupt        // the control block names no task or item in flight
)

// locate finds the running item in inflight (the worker's FIFO), checking
// every word the worker wrote against what the parent knows, since a dead
// worker's block may hold anything.
func (s deathScene) locate(inflight []*task) (state, k, item int) {
	if s.seq%2 == 0 {
		return sceneIdle, 0, 0
	}
	for k, t := range inflight {
		if t.id != s.running {
			continue
		}
		if s.base > s.seq-1 {
			return sceneCorrupt, 0, 0
		}
		if i := (s.seq - 1 - s.base) / 2; i < uint64(t.hi-t.lo) {
			return sceneRunning, k, int(i)
		}
		return sceneCorrupt, 0, 0
	}
	return sceneCorrupt, 0, 0
}

// onExit handles the end of a worker process, once its results are
// drained.
func (p *Pool) onExit(w *worker) {
	_, exitErr := w.proc.Wait(context.Background())
	code, _ := w.proc.ExitCode()
	s := deathScene{code: code, exitErr: exitErr, ready: w.ctl.ready.Load() != 0, seq: w.ctl.seq.Load()}
	s.running, s.base = w.ctl.task.Load(), w.ctl.base.Load()

	p.mu.Lock()
	w.gone = true
	p.st.workers.Add(-1)
	fails := p.requeueInflight(w, s)
	fails, replace, delay := p.afterDeath(w, s, fails)
	// The requeued tasks go to the other workers now, not after the
	// replacement has started; cancelled ones are dropped.
	fails = p.pump(fails)
	p.mu.Unlock()
	p.deliverFailures(fails)
	<-w.reaped // Close wakes sleepers after the collector may have seen it
	w.region.Close()
	if replace {
		p.replace(w.slot, delay)
	}
	p.signalChange()
	p.reportProgress()
}

// requeueInflight puts w's in-flight tasks back at the front of the queue,
// in order, and fails (or retries) the item that was running (step 3).
// Called with p.mu held.
func (p *Pool) requeueInflight(w *worker, s deathScene) []failure {
	var fails []failure
	inflight := w.inflight[w.ihead:]
	w.inflight, w.ihead = nil, 0
	state, running, item := s.locate(inflight)
	// Last first, so they keep their order.
	for k := len(inflight) - 1; k >= 0; k-- {
		t := inflight[k]
		p.st.inflight.Add(-int64(t.hi - t.lo))
		switch {
		case state == sceneCorrupt:
			fails = p.chargeTask(w, t, s, fails)
		case state == sceneRunning && k == running:
			fails = p.chargeItem(w, t, item, s, fails)
		default:
			p.requeue(t)
		}
	}
	return fails
}

// chargeItem handles task t of dead worker w, whose item lo+item was
// running: that item is run again or fails, the others go back to the
// queue. Called with p.mu held.
func (p *Pool) chargeItem(w *worker, t *task, item int, s deathScene, fails []failure) []failure {
	n := t.hi - t.lo
	if item+1 < n {
		p.requeue(&task{job: t.job, lo: t.lo + item + 1, hi: t.hi, chunk: t.chunk, attempts: t.attempts})
	}
	timedOut := w.timeoutSeq == s.seq
	if !timedOut && t.attempts < p.cfg.retries && !t.job.cancelled.Load() {
		p.st.retried.Add(1)
		p.requeue(&task{job: t.job, lo: t.lo + item, hi: t.lo + item + 1, chunk: 1, attempts: t.attempts + 1})
	} else {
		fails = append(fails, failure{t.job, t.lo + item, p.workerError(w, t, s, timedOut)})
	}
	if item > 0 {
		p.requeue(&task{job: t.job, lo: t.lo, hi: t.lo + item, chunk: t.chunk, attempts: t.attempts})
	}
	return fails
}

// chargeTask handles task t of dead worker w whose control block was
// corrupt: the whole task counts an attempt. Called with p.mu held.
func (p *Pool) chargeTask(w *worker, t *task, s deathScene, fails []failure) []failure {
	if t.attempts < p.cfg.retries && !t.job.cancelled.Load() {
		p.st.retried.Add(int64(t.hi - t.lo))
		t.attempts++
		p.requeue(t)
		return fails
	}
	err := fmt.Errorf("%w; its control block named task %d, seq %d, base %d: %w",
		p.workerError(w, t, s, false), s.running, s.seq, s.base, ierrs.ErrCorrupt)
	for i := t.lo; i < t.hi; i++ {
		fails = append(fails, failure{t.job, i, err})
	}
	return fails
}

func (p *Pool) workerError(w *worker, t *task, s deathScene, timedOut bool) *WorkerError {
	return &WorkerError{
		Pid: w.proc.Pid(), Func: t.job.fn, ExitCode: s.code, TimedOut: timedOut,
		Limit: p.cfg.timeout, Attempts: t.attempts + 1,
	}
}

// afterDeath decides whether w is replaced (after delay) or the pool
// breaks. Called with p.mu held.
func (p *Pool) afterDeath(w *worker, s deathScene, fails []failure) (_ []failure, replace bool, delay time.Duration) {
	othersReady := p.anyReadyLocked()
	if s.ready || othersReady {
		p.badStarts = 0
	}
	switch {
	case p.state != poolOpen && p.state != poolClosing:
		return fails, false, 0
	case !s.ready && p.cfg.initFunc != "" && isChildError(s.exitErr):
		err := fmt.Errorf("pool worker %d: %w: %w", w.proc.Pid(), ErrInitializer, s.exitErr)
		return p.breakLocked(err, fails), false, 0
	case s.ready:
		p.slotFails[w.slot] = 0
	case !killedFromOutside(s.code) && p.badStarts >= 2:
		err := fmt.Errorf("pool workers keep dying before they are ready; the last: %w", s.exitErr)
		return p.breakLocked(err, fails), false, 0
	default:
		if !killedFromOutside(s.code) && !othersReady {
			p.badStarts++
		}
		p.slotFails[w.slot]++
		delay = startDelay(p.slotFails[w.slot])
	}
	if s.code == 0 && p.cfg.maxTasks > 0 && w.sent >= p.cfg.maxTasks {
		p.st.recycled.Add(1)
	} else {
		p.st.restarts.Add(1)
	}
	p.workers[w.slot] = nil
	return fails, true, delay
}

// The pause before a worker that died before it was ready is replaced:
// startBackoff for the first such death of its slot, doubling for each
// that follows in a row, at most maxStartBackoff.
const (
	startBackoff    = 5 * time.Millisecond
	maxStartBackoff = time.Second
)

// startDelay is the pause before replacing a slot's nth worker in a row
// that died before it was ready.
func startDelay(n int) time.Duration {
	return min(startBackoff<<min(max(n, 1)-1, 16), maxStartBackoff)
}

// killedFromOutside reports whether exit code code (-signal for a death by
// signal) is a kill someone else sent: SIGKILL (a user, the OOM killer)
// or SIGTERM. A crash (SIGSEGV, SIGABRT, a Go runtime exit) is the
// worker's own doing.
func killedFromOutside(code int) bool {
	return code == -int(syscall.SIGKILL) || code == -int(syscall.SIGTERM)
}

// anyReadyLocked reports whether a live worker is ready: the binary and
// the initializer work. Called with p.mu held.
func (p *Pool) anyReadyLocked() bool {
	for _, w := range p.workers {
		if w != nil && !w.gone && w.ctl.ready.Load() != 0 {
			return true
		}
	}
	return false
}

func isChildError(err error) bool {
	var ce *spawn.ChildError
	return errors.As(err, &ce)
}

// requeue puts t at the front of the queue. Called with p.mu held.
func (p *Pool) requeue(t *task) {
	t.id, t.group = 0, 0
	p.pushFront(t)
	p.st.queued.Add(int64(t.hi - t.lo))
}

// replace starts a new worker in slot after delay (cut short when the
// pool stops). A start that fails breaks the pool.
func (p *Pool) replace(slot int, delay time.Duration) {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
		}
		p.mu.Lock()
		stopped := p.state != poolOpen && p.state != poolClosing
		p.mu.Unlock()
		if stopped {
			p.signalChange()
			return
		}
	}
	w, err := p.startWorker(context.Background(), slot)
	p.mu.Lock()
	var fails []failure
	switch {
	case err != nil:
		fails = p.breakLocked(fmt.Errorf("replace pool worker: %w", err), nil)
	case p.state != poolOpen && p.state != poolClosing:
		// Terminated meanwhile: stop the newcomer too.
		w.closing = true
		w.tasks.Close()
		w.proc.Kill()
		p.workers[slot] = w
	default:
		p.workers[slot] = w
		fails = p.pump(nil)
	}
	p.mu.Unlock()
	p.deliverFailures(fails)
	p.signalChange()
}

// breakLocked marks the pool broken by err: every queued and in-flight item
// fails with it, and the workers are stopped. Called with p.mu held.
func (p *Pool) breakLocked(err error, fails []failure) []failure {
	if p.state == poolBroken || p.state == poolTerminated {
		return fails
	}
	p.state, p.brokenErr = poolBroken, err
	return p.failAllLocked(err, fails)
}

// failAllLocked fails everything queued and in flight with err, closes the
// task rings and sends SIGTERM to every worker. Called with p.mu held.
func (p *Pool) failAllLocked(err error, fails []failure) []failure {
	for _, t := range p.queue[p.qhead:] {
		for i := t.lo; i < t.hi; i++ {
			fails = append(fails, failure{t.job, i, err})
		}
		p.st.queued.Add(-int64(t.hi - t.lo))
	}
	p.queue, p.qhead = nil, 0
	for _, w := range p.workers {
		if w == nil {
			continue
		}
		for _, t := range w.inflight[w.ihead:] {
			for i := t.lo; i < t.hi; i++ {
				fails = append(fails, failure{t.job, i, err})
			}
			p.st.inflight.Add(-int64(t.hi - t.lo))
		}
		w.inflight, w.ihead = nil, 0
		if !w.gone {
			w.closing = true
			w.tasks.Close()
			w.proc.Terminate()
		}
	}
	if p.stopped.CompareAndSwap(false, true) {
		close(p.stop)
	}
	return fails
}
