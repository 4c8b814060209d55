package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/registry"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// The worker side of a Pool. A worker is a child process started like any
// other (spawn.Func.Start); the function it runs is runWorker, registered
// here at package scope, which serves tasks from its task ring until the
// ring is closed (or its task budget is spent, or SIGTERM arrives).

// workerArg is what a worker is started with.
type workerArg struct {
	Control, Tasks, Results, Heap shm.Handle
	InitFunc                      string // the initializer's registered name, or ""
	InitArg                       []byte
	MaxTasks                      int // tasks before the worker exits, 0 for no limit
}

var workerFunc = spawn.Register("forkless/pool.worker", runWorker)

// errStopping: the worker got SIGTERM and stops between items.
var errStopping = errors.New("pool worker stopping")

// Results are published in batches, one index store and at most one
// wake-up for several: after resultBatch results, or once the oldest
// unpublished result is resultDelay old, or when no task is waiting. (A
// worker that dies with unpublished results only makes the parent run
// those tasks again: see exit.go.)
const (
	resultBatch = 16
	resultDelay = 50 * time.Microsecond
)

// workerLoop is a worker's state.
type workerLoop struct {
	ctx     context.Context
	ctl     *control
	heap    *shm.Heap
	tasks   *ring.SPSC[taskDesc]
	results *ring.SPSC[resultDesc]
	funcs   map[uint32]*registry.Entry // the functions this worker was told, by Fid

	// The control words this worker alone writes (control.go), for
	// mapped.StoreRelease, and its own copy of seq.
	seqW, taskW, baseW, jobW *uint64
	seq                      uint64

	lastGen      uint64
	cancelled    [ctlSlots]uint64
	out          []byte
	arg          []byte        // a private copy of the running task's argument payload
	stopping     atomic.Bool   // set once ctx ends (SIGTERM)
	pending      []resultDesc  // results not yet published
	epoch        time.Time     // the worker's clock: times below are since epoch
	pendingSince time.Duration // when the oldest pending task started
}

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
	w, err := openWorker(ctx, a)
	if err != nil {
		return none, fmt.Errorf("pool worker: %w", err)
	}
	if a.InitFunc != "" {
		e, ok := registry.Lookup(a.InitFunc)
		if !ok {
			return none, fmt.Errorf("pool initializer %s is not registered: %w", a.InitFunc, spawn.ErrNotRegistered)
		}
		if _, err := e.Run(ctx, a.InitArg); err != nil {
			return none, err
		}
	}
	stopWatch := context.AfterFunc(ctx, func() { w.stopping.Store(true) })
	defer stopWatch()
	w.ctl.ready.Store(1) // tells the parent the initializer succeeded
	defer w.flush()
	return none, w.serveAll(a.MaxTasks)
}

// openWorker binds the worker's region: its control block, rings and heap.
func openWorker(ctx context.Context, a workerArg) (*workerLoop, error) {
	ctlBlock, err := shm.BindHandle(a.Control, KindControl)
	if err != nil {
		return nil, err
	}
	ctl, err := mapped.At[control](ctlBlock.Bytes(), 0)
	if err != nil {
		return nil, err
	}
	tasks, err := ring.OpenSPSC[taskDesc](a.Tasks)
	if err != nil {
		return nil, err
	}
	results, err := ring.OpenSPSC[resultDesc](a.Results)
	if err != nil {
		return nil, err
	}
	heap, err := shm.OpenHeap(a.Heap)
	if err != nil {
		return nil, err
	}
	b := ctlBlock.Bytes()
	word := func(off uintptr) *uint64 { return mapped.Must[uint64](b, int(off)) }
	return &workerLoop{ctx: ctx, ctl: ctl, heap: heap, tasks: tasks, results: results,
		funcs: map[uint32]*registry.Entry{}, epoch: time.Now(),
		seqW: word(unsafe.Offsetof(control{}.seq)), taskW: word(unsafe.Offsetof(control{}.task)),
		baseW: word(unsafe.Offsetof(control{}.base)), jobW: word(unsafe.Offsetof(control{}.job)),
		seq: ctl.seq.Load()}, nil
}

// serveAll serves tasks until the ring is closed and drained, maxTasks
// tasks ran (0: no limit), or SIGTERM; an error is a broken protocol.
func (w *workerLoop) serveAll(maxTasks int) error {
	var batch [resultBatch]taskDesc
	served := 0
	var wait poller
	for maxTasks == 0 || served < maxTasks {
		if w.stopping.Load() {
			return nil // SIGTERM: the parent re-dispatches what is queued
		}
		n, err := popSome(w.ctx, &wait, w.tasks, batch[:])
		if err != nil {
			return nil // closed and drained (Close), or SIGTERM
		}
		// One clock read per task: each task's end is the next one's
		// start. time.Since reads only the monotonic clock, time.Now the
		// wall clock too (55 ns against 29 on this repository's VMs, per
		// task of a few hundred).
		start := time.Since(w.epoch)
		for i := range n {
			end, err := w.serve(&batch[i], start)
			if err == errStopping {
				return nil
			} else if err != nil {
				return err
			}
			start = end
			served++
			if len(w.pending) >= resultBatch || end-w.pendingSince >= resultDelay ||
				(i == n-1 && w.tasks.Len() == 0) {
				w.flush()
			}
		}
	}
	return nil
}

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

func (w *workerLoop) isCancelled(job uint64) bool {
	if g := w.ctl.cancelGen.Load(); g != w.lastGen { // acquire: the slots written before it
		w.lastGen = g
		for i := range ctlSlots {
			w.cancelled[i] = w.ctl.cancel[i].Load()
		}
	}
	for _, j := range w.cancelled {
		if j == job {
			return true
		}
	}
	return false
}
