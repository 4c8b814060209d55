package spawn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/internal/registry"
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
)

// The worker side of a Pool. A worker is a child process started with
// Start like any other; the function it runs is runWorker, registered here
// at package scope, which serves tasks from its task ring until the ring is
// closed (or its task budget is spent, or SIGTERM arrives).

// KindPoolControl is the kind of a pool worker's control block.
const KindPoolControl shm.Kind = 0x0330

// The control block: one per worker incarnation, in that worker's region.
// It is how the parent knows which task the worker holds.
//
//	offset size field      written by                read by
//	     0    8 seq        worker: +1 before an item  parent: odd = an item is running;
//	                       (odd), +1 after (even)     the watchdog times items by it
//	     8    8 task       worker, before seq turns   parent, after the worker died: the
//	                       odd                        task that was running
//	    16    8 base       worker: seq when the task  parent: the running item is
//	                       started, before seq turns  (seq-1-base)/2 (skipped items
//	                       odd                        advance seq by 2 too)
//	    24    8 job        worker, before seq turns   parent: cancel stages (is the worker
//	                       odd                        running an item of a cancelled job?)
//	    32    4 ready      worker, once, after the    parent: a worker that dies before
//	                       initializer succeeded      ready is a start or init failure
//	    40    8 cancelGen  parent, after writing a    worker, before each item: when it
//	                       cancel slot                changed, re-read the cancel slots
//	    64 8*8 cancel      parent: ids of recently    worker: skip items of these jobs
//	                       cancelled jobs (round
//	                       robin over 8 slots)
//
// Hand-offs: the seq store that makes seq odd publishes task, base and job
// (written before it) to the parent; after the worker's death the parent
// reads all four words with nothing racing it. The cancelGen store
// publishes the cancel slot written before it. A stale read of the cancel
// slots only delays a skip (the item runs and its result is dropped).
const (
	ctlSeq       = 0
	ctlTask      = 8
	ctlBase      = 16
	ctlJob       = 24
	ctlReady     = 32
	ctlCancelGen = 40
	ctlCancel    = 64
	ctlSlots     = 8
	ctlSize      = ctlCancel + 8*ctlSlots
)

// taskDesc is a ring slot of the task ring: one task, parent to worker.
type taskDesc struct {
	ID     uint64   // the task's id, unique in the pool, increasing
	Job    uint64   // the job (one Map, one Submit...) the task belongs to
	Flags  uint32   // flagName, flagHeap
	Count  uint32   // items in the task
	Len    uint32   // payload bytes
	Fid    uint32   // the function, numbered by the pool; its name travels once per worker (flagName)
	Off    int64    // heap offset of the payload when flagHeap
	Inline [24]byte // the payload itself when it fits
}

// resultDesc is a ring slot of the result ring: one task's results.
type resultDesc struct {
	ID     uint64   // the task's id
	Nanos  uint64   // time the worker spent running the task
	Flags  uint32   // flagHeap
	Len    uint32   // payload bytes
	Off    int64    // heap offset of the payload when flagHeap
	Inline [32]byte // the payload itself when it fits
}

const (
	flagName = 1 << 0 // the payload starts with the function's name
	flagHeap = 1 << 1 // the payload is in the worker's heap at Off
	// flagTooLarge: the results did not fit the worker's heap; Len says how
	// large they were. Every item of the task fails with ErrTooLarge.
	flagTooLarge = 1 << 2
)

// workerArg is what a worker is started with.
type workerArg struct {
	Control, Tasks, Results, Heap shm.Handle
	InitFunc                      string // the initializer's registered name, or ""
	InitArg                       []byte
	MaxTasks                      int // tasks before the worker exits, 0 for no limit
}

var workerFunc = Register("forkless/pool.worker", runWorker)

// runWorker serves tasks. It returns nil when the task ring is closed and
// drained, when MaxTasks tasks ran, or after SIGTERM (ctx) once the item
// running then has returned.
func runWorker(ctx context.Context, a workerArg) (struct{}, error) {
	var none struct{}
	// Ctrl-C in a terminal signals the whole process group. The parent
	// decides what an interrupt means (cancel its contexts, or die, and its
	// workers with it); a worker that died of it would only be restarted, and
	// Python's workers each print a traceback here. So workers ignore it.
	signal.Ignore(os.Interrupt)
	ctlBlock, err := shm.BindHandle(a.Control, KindPoolControl)
	if err != nil {
		return none, fmt.Errorf("pool worker: %w", err)
	}
	tasks, err := ring.OpenSPSC[taskDesc](a.Tasks)
	if err != nil {
		return none, fmt.Errorf("pool worker: %w", err)
	}
	results, err := ring.OpenSPSC[resultDesc](a.Results)
	if err != nil {
		return none, fmt.Errorf("pool worker: %w", err)
	}
	heap, err := shm.OpenHeap(a.Heap)
	if err != nil {
		return none, fmt.Errorf("pool worker: %w", err)
	}
	if a.InitFunc != "" {
		e, ok := lookup(a.InitFunc)
		if !ok {
			return none, fmt.Errorf("pool initializer %s is not registered: %w", a.InitFunc, ErrNotRegistered)
		}
		if _, err := e.Run(ctx, a.InitArg); err != nil {
			return none, err
		}
	}
	w := &workerLoop{
		ctx: ctx, heap: heap, results: results, funcs: map[uint32]*registry.Entry{},
		seq:       ctlBlock.Uint64(ctlSeq),
		task:      ctlBlock.Uint64(ctlTask),
		base:      ctlBlock.Uint64(ctlBase),
		job:       ctlBlock.Uint64(ctlJob),
		cancelGen: ctlBlock.Uint64(ctlCancelGen),
	}
	for i := range ctlSlots {
		w.cancel[i] = ctlBlock.Uint64(ctlCancel + 8*int64(i))
	}
	stopWatch := context.AfterFunc(ctx, func() { w.stopping.Store(true) })
	defer stopWatch()
	ctlBlock.Uint32(ctlReady).Store(1) // tells the parent the initializer succeeded
	// Results are published in batches, one index store and at most one
	// wake-up for several: after resultBatch results, or once the oldest
	// unpublished result is resultDelay old, or when no task is waiting.
	// (A worker that dies with unpublished results only makes the parent
	// run those tasks again: see "Failure handling" in pool.go.)
	defer w.flush()
	var batch [resultBatch]taskDesc
	served := 0
	for a.MaxTasks == 0 || served < a.MaxTasks {
		if w.stopping.Load() {
			return none, nil // SIGTERM: the parent re-dispatches what is queued
		}
		n, err := tasks.PopSome(ctx, batch[:])
		if err != nil {
			return none, nil // closed and drained (Close), or SIGTERM
		}
		// One clock read per task (they cost 100+ ns on these virtual
		// machines): each task's end is the next one's start.
		start := time.Now()
		for i := range n {
			end, err := w.serve(&batch[i], start)
			if err == errStopping {
				return none, nil
			} else if err != nil {
				return none, err
			}
			start = end
			served++
			if len(w.pending) >= resultBatch || end.Sub(w.pendingSince) >= resultDelay ||
				(i == n-1 && tasks.Len() == 0) {
				w.flush()
			}
		}
	}
	return none, nil
}

// errStopping: the worker got SIGTERM and stops between items.
var errStopping = errors.New("pool worker stopping")

const (
	resultBatch = 16
	resultDelay = 50 * time.Microsecond
)

// flush publishes the pending results with one store.
func (w *workerLoop) flush() {
	if len(w.pending) == 0 {
		return
	}
	// The ring holds as many results as the parent has tasks in flight
	// here, so this never waits for long; it fails only when the parent
	// closed the ring (Terminate), and then nobody wants the results.
	w.results.PushAll(context.Background(), w.pending)
	w.pending = w.pending[:0]
}

type workerLoop struct {
	ctx     context.Context
	heap    *shm.Heap
	results *ring.SPSC[resultDesc]
	funcs   map[uint32]*registry.Entry // the functions this worker was told, by Fid

	seq, task, base, job *atomic.Uint64
	cancelGen            *atomic.Uint64
	cancel               [ctlSlots]*atomic.Uint64
	lastGen              uint64
	cancelled            [ctlSlots]uint64
	out                  []byte
	stopping             atomic.Bool  // set once ctx ends (SIGTERM)
	pending              []resultDesc // results not yet published
	pendingSince         time.Time    // when the oldest pending task started
}

func (w *workerLoop) isCancelled(job uint64) bool {
	if g := w.cancelGen.Load(); g != w.lastGen { // acquire: the slots written before it
		w.lastGen = g
		for i := range ctlSlots {
			w.cancelled[i] = w.cancel[i].Load()
		}
	}
	for _, j := range w.cancelled {
		if j == job {
			return true
		}
	}
	return false
}

// serve runs one task, started at start, and adds its results to the
// pending ones; it returns when it ended. An error here is a broken
// protocol (a descriptor naming bytes outside the heap): the worker exits
// and the parent fails the task.
func (w *workerLoop) serve(d *taskDesc, start time.Time) (time.Time, error) {
	var payload []byte
	if d.Flags&flagHeap != 0 {
		b, err := w.heap.Bytes(d.Off, int64(d.Len))
		if err != nil {
			return start, fmt.Errorf("pool worker: task %d: %w", d.ID, err)
		}
		payload = b
	} else {
		if d.Len > uint32(len(d.Inline)) {
			return start, fmt.Errorf("pool worker: task %d: inline payload of %d bytes: %w", d.ID, d.Len, errChunk)
		}
		payload = d.Inline[:d.Len]
	}
	r := wire.NewReader(payload, errChunk)
	if d.Flags&flagName != 0 {
		name := r.String()
		if err := r.Err(); err != nil {
			return start, fmt.Errorf("pool worker: task %d: %w", d.ID, err)
		}
		e, ok := lookup(name)
		if !ok {
			e = &registry.Entry{Name: name, AppendRun: func(_ context.Context, _, dst []byte) ([]byte, error) {
				return dst, fmt.Errorf("function %s is not registered in the worker: register it at "+
					"package scope, before spawn.Main runs: %w", name, ErrNotRegistered)
			}}
		}
		w.funcs[d.Fid] = e
	}
	e := w.funcs[d.Fid]
	if e == nil {
		return start, fmt.Errorf("pool worker: task %d names unknown function %d: %w", d.ID, d.Fid, errChunk)
	}
	w.out = w.out[:0]
	// One store per task for the task's identity; per item only seq moves
	// (two atomic adds), and the item's index follows from it.
	w.task.Store(d.ID)
	w.job.Store(d.Job)
	w.base.Store(w.seq.Load())
	for range d.Count {
		arg := r.Bytes()
		if err := r.Err(); err != nil {
			return start, fmt.Errorf("pool worker: task %d: %w", d.ID, err)
		}
		if w.isCancelled(d.Job) {
			w.out = append(w.out, itemSkipped)
			w.seq.Add(2) // keeps (seq-1-base)/2 the item's index
			continue
		}
		if w.stopping.Load() {
			// SIGTERM: stop before the next item. The task stays
			// unpublished, so the parent hands it out again (or drops it,
			// when it is what was cancelled).
			return start, errStopping
		}
		w.seq.Add(1) // odd: publishes task, job, base: "item (seq-1-base)/2 of task d.ID is running"
		w.out = w.runItem(e, arg, w.out)
		w.seq.Add(1) // even: the item returned
	}
	if d.Flags&flagHeap != 0 {
		w.heap.Free(d.Off) // the argument is ours to free once read
	}
	end := time.Now()
	res := resultDesc{ID: d.ID, Nanos: uint64(end.Sub(start))}
	if err := w.place(&res); err != nil {
		return end, err
	}
	if len(w.pending) == 0 {
		w.pendingSince = start
	}
	w.pending = append(w.pending, res)
	return end, nil
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

// fixLength writes the uvarint length of out[at+1:] at out[at], where one
// byte was reserved, moving the value right when the length needs more.
func fixLength(out []byte, at int) []byte {
	n := len(out) - at - 1
	if n < 0x80 {
		out[at] = byte(n)
		return out
	}
	var tmp [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(tmp[:], uint64(n))
	out = append(out, tmp[:k-1]...) // room for the k-1 extra length bytes
	copy(out[at+k:], out[at+1:at+1+n])
	copy(out[at:], tmp[:k])
	return out
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
