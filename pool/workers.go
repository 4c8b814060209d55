package pool

import (
	"context"
	"fmt"
	"math/bits"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Each worker incarnation has one anonymous region (shm.New), shared with
// that worker only and closed by the parent once the worker is reaped and
// its results drained, so nothing a dead worker left behind outlives it. It
// holds:
//
//   - the control block ([control]), in which the worker records which
//     item of which task it runs;
//   - the task ring, ring.SPSC[taskDesc] of QueueDepth slots: the parent
//     pushes, the worker pops;
//   - the result ring, ring.SPSC[resultDesc]: the worker pushes, the parent
//     pops;
//   - a shm.Heap of ArenaSize bytes for payloads too large to travel inline
//     in a descriptor: the parent allocates arguments and the worker frees
//     them once read; the worker allocates results and the parent frees
//     them once decoded.
//
// Nothing travels through pipes: the pipes of the underlying spawn.Process
// carry only the worker's start request and its exit status. The parent
// never trusts an offset or length from the region without a bounds check
// (shm.Heap.Bytes, parseResults).

// ringSize bounds the bytes of a ring.SPSC of depth slots of slot bytes in
// a region: its header, its slots (a power of two of them, at least
// depth) and alignment.
func ringSize(depth int, slot uintptr) int64 {
	slots := int64(1) << bits.Len(uint(depth-1))
	return 320 + slots*int64(slot) + 128
}

// startWorker makes a worker incarnation's region and starts its process.
func (p *Pool) startWorker(ctx context.Context, slot int) (*worker, error) {
	depth := p.cfg.depth
	ringBytes := ringSize(depth, unsafe.Sizeof(taskDesc{})) + ringSize(depth, unsafe.Sizeof(resultDesc{}))
	size := p.cfg.arena + ringBytes + ctlSize + 64<<10
	r, err := shm.New(size)
	if err != nil {
		return nil, fmt.Errorf("start pool worker: %w", err)
	}
	fail := func(err error) (*worker, error) {
		r.Close()
		return nil, fmt.Errorf("start pool worker: %w", err)
	}
	ctlBlock, err := r.Alloc(shm.Layout{Kind: KindControl, Size: ctlSize})
	if err != nil {
		return fail(err)
	}
	ctl, err := mapped.At[control](ctlBlock.Bytes(), 0)
	if err != nil {
		return fail(err)
	}
	tasks, err := ring.NewSPSC[taskDesc](r, depth)
	if err != nil {
		return fail(err)
	}
	results, err := ring.NewSPSC[resultDesc](r, depth)
	if err != nil {
		return fail(err)
	}
	heap, err := shm.NewHeap(r, p.cfg.arena)
	if err != nil {
		return fail(err)
	}
	arg := workerArg{
		Control: ctlBlock.Handle(), Tasks: tasks.Handle(), Results: results.Handle(), Heap: heap.Handle(),
		InitFunc: p.cfg.initFunc, InitArg: p.cfg.initArg, MaxTasks: p.cfg.maxTasks,
	}
	// Workers are daemons, as Python's are: Shutdown terminates them
	// rather than waiting for them (the pool itself is torn down first).
	popts := append([]spawn.Option{spawn.Name(fmt.Sprintf("PoolWorker-%d", slot+1)), spawn.Daemon()}, p.cfg.procOpts...)
	popts = append(popts, spawn.Share(r))
	proc, err := workerFunc.Start(ctx, arg, popts...)
	if err != nil {
		return fail(err)
	}
	w := &worker{
		slot: slot, proc: proc, region: r, tasks: tasks, results: results, heap: heap,
		ctl: ctl, known: map[uint32]bool{}, reaped: make(chan struct{}),
	}
	p.st.workers.Add(1)
	// The reaper: once the process is gone, nothing more can be published,
	// so closing the result ring lets the collector drain, then see the end.
	go func() {
		<-proc.Done()
		results.Close()
		close(w.reaped)
	}()
	p.live.Go(func() { p.collect(w) })
	return w, nil
}

// collect reads one worker's results until it is gone, then handles its
// exit. Each batch of results takes the pool's lock twice, not once per
// result: once to pop the tasks they finish, once to recycle those and
// refill the worker.
func (p *Pool) collect(w *worker) {
	var batch [collectBatch]resultDesc
	var tasks [collectBatch]*task
	var scratch []byte // private copies of result payloads
	var wait poller
	// The wait ends when the worker is gone, whatever its ring's shared
	// words say: the reaper's Close writes into memory the worker may have
	// scribbled, and a close that a corrupt header hides must not leave
	// this goroutine asleep for good (PopSome drains what is there first).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.reaped:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		n, err := popSome(ctx, &wait, w.results, batch[:])
		if err != nil {
			// Closed by the reaper, and drained; or the ring's words are
			// not what its two sides write (ErrCorrupt): that worker's
			// failure, and it must be gone before its exit is handled.
			select {
			case <-w.proc.Done():
			default:
				w.proc.Kill()
			}
			break
		}
		now := time.Since(p.epoch)
		p.mu.Lock()
		k := 0
		for ; k < n; k++ {
			t, ok := p.finishHead(w, &batch[k], now)
			if !ok {
				break // the rest are not to be trusted, or nobody wants them
			}
			tasks[k] = t
		}
		p.mu.Unlock()
		p.takeAll(w, tasks[:k], batch[:k], &scratch)
		p.mu.Lock()
		for i := range k {
			p.freeTask(tasks[i])
			tasks[i] = nil
		}
		fails := p.pump(nil)
		p.mu.Unlock()
		p.deliverFailures(fails)
		p.signalChange()
		p.reportProgress()
	}
	p.onExit(w)
}

// takeAll counts and delivers batch, the results of tasks, in passes
// (results.go).
func (p *Pool) takeAll(w *worker, tasks []*task, batch []resultDesc, scratch *[]byte) {
	var took [collectBatch]taken
	for from := 0; from < len(tasks); {
		var c tally
		to := from
		for to < len(tasks) {
			took[to] = p.takeResult(w, tasks[to], &batch[to], scratch, &c)
			to++
			if took[to-1].inScratch {
				break
			}
		}
		p.add(c)
		for i := from; i < to; i++ {
			p.deliverTaken(w, tasks[i], &batch[i], took[i])
			took[i] = taken{}
		}
		from = to
	}
}

// collectBatch is the most results a collector takes at once.
const collectBatch = 64
