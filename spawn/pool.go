package spawn

// Pool: a pool of worker processes, Python's multiprocessing.Pool and
// concurrent.futures.ProcessPoolExecutor, without their hangs.
//
// # Design
//
// A Pool starts Workers() worker processes (the running binary again, like
// any Start), each running runWorker (pool_worker.go). Each worker
// incarnation gets its own anonymous shared-memory region holding:
//
//   - a task ring, ring.SPSC[taskDesc]: the parent pushes, the worker pops;
//   - a result ring, ring.SPSC[resultDesc]: the worker pushes, the parent pops;
//   - a shm.Heap, the worker's arena, for payloads too large to travel inline
//     in a descriptor (the parent allocates arguments, the worker frees them
//     once read; the worker allocates results, the parent frees them once
//     decoded);
//   - a control block (pool_worker.go) in which the worker records which item
//     of which task it is running.
//
// Nothing travels through pipes: the pipes of the underlying Process carry
// only the worker's start request and its exit status.
//
// Work is cut into tasks: a task is a run of consecutive items of one job (a
// Map, an Imap, a Submit). The parent keeps one FIFO of tasks not yet handed
// out and, per worker, the FIFO of tasks handed to it (in flight). A worker
// runs its tasks in order, so its results come back in the order of its
// in-flight FIFO: the parent needs no map from task id to task, only a check
// that the result names the head of the FIFO. Tasks go to the worker with
// the fewest in flight, at most depth per worker, where depth adapts to the
// measured task time (about 2 ms of queued work, between 2 and QueueDepth),
// so tiny tasks are pipelined and long ones do not queue behind each other.
//
// # Failure handling
//
// The parent always knows which task each worker holds:
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
//     closed and handles the exit with nothing racing it.
//  3. If seq is odd and names the head of the in-flight FIFO, that item was
//     running: it fails with a *WorkerError naming the pid and the signal or
//     exit code (or ErrTimeout when the watchdog killed it), or it is run
//     again when the pool has Retries left for it. The items of that task
//     before k (done, but their results were never published) and after k
//     go back to the front of the queue. Every other task in flight was
//     merely queued to that worker: it goes back to the front of the queue,
//     in order. A worker that died between items (seq even) held no running
//     item: all its tasks go back.
//  4. A new worker starts in the dead one's place and the pool goes on.
//
// So one death fails at most one item, never the pool. (Python's Pool hangs
// forever here; ProcessPoolExecutor fails every pending task and breaks.)
// Items of a task whose worker died may have run once already: delivery is
// exactly once, execution at least once.
//
// Per-task time limit (TaskTimeout): a watchdog samples every worker's seq
// word; a worker whose seq stayed at the same odd value for longer than the
// limit is killed, and step 3 reports its item with ErrTimeout.
//
// A task's own error or panic is not a death: the worker records it (with
// its stack, for a panic) in the task's results and goes on.
//
// An initializer that fails, or workers that keep dying before they are
// ready (three in a row exiting on their own, or ten killed by signals),
// break the pool: every pending item fails with
// that error (ErrInitializer for an initializer) and so does every later
// submission, instead of Python's endless restarts.
//
// Cancelling (a Map's context, an Imap left early, Future.Cancel) goes in
// stages: (1) the job's tasks not yet handed out are dropped; (2) its id is
// written into every worker's cancel slots, so workers skip its queued items;
// (3) after CancelGrace, a worker still running one of its items gets
// SIGTERM (its function sees its context cancelled), and (4) after another
// CancelGrace, SIGKILL. The killed worker's other tasks go back to the
// queue, and a new worker starts. Close drains, Terminate stops now (SIGTERM,
// then SIGKILL after the grace), and both take a context.
//
// # Memory layout
//
// Each worker incarnation has one anonymous region (shm.New), shared with
// that worker only and closed by the parent once the worker is reaped and
// its results drained, so nothing a dead worker left behind outlives it:
//
//	block              kind               written by          read by
//	control block      KindPoolControl    see pool_worker.go  see pool_worker.go
//	task ring          ring.KindSPSC      parent (push)       worker (pop)
//	                   of taskDesc, QueueDepth slots
//	result ring        ring.KindSPSC      worker (push)       parent (pop)
//	                   of resultDesc, QueueDepth slots
//	heap (ArenaSize)   shm.KindHeap       parent: argument    worker: argument payloads,
//	                                      payloads; worker:   freed once read; parent:
//	                                      result payloads     results, freed once decoded
//
// A taskDesc (64 bytes) names the task id, its job, its function (by a
// number; the name travels once per worker, at the head of the first
// payload that uses it), the item count, and the payload: inline when it
// fits in 24 bytes, else a heap offset and length. A resultDesc (64 bytes)
// names the task id, the time the worker spent on it, and the result
// payload: inline up to 32 bytes, else in the heap. Payload formats:
// chunk.go. A result descriptor whose task id is not the head of the
// worker's in-flight FIFO is a broken worker: it is killed and handled like
// any death. The parent never trusts an offset or length from shared
// memory without a bounds check (shm.Heap.Bytes, parseResults).
//
// # Caveats
//
//   - Delivery is exactly once, execution at least once: the items of a
//     task whose worker died, other than the one that was running, may run
//     again; so may a task whose results the worker had not yet published
//     (it publishes in batches of up to 16, or after 50 µs).
//   - Tasks queued to one worker wait behind its running task; the depth
//     adapts to about 2 ms of work, and QueueDepth(1) removes the wait for
//     workloads of a few long tasks.
//   - A task's time limit is per item and measured by the parent's
//     watchdog, so it is enforced within about limit/8.
//   - Cancelling a job never stops an item of another job: SIGTERM goes only
//     to workers running an item of the cancelled job, and a worker stops
//     between items, leaving its unfinished tasks to be handed out again.
//   - Arguments and results travel as the registry's encoding (raw bytes
//     for fixed-size, pointer-free types; the Func's Codec otherwise); a
//     single item larger than the arena fails with ErrTooLarge.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
)

// Sentinel errors of the pool; test with errors.Is.
var (
	// ErrPoolClosed: the pool was closed (Close) before the task was submitted.
	ErrPoolClosed = errors.New("pool closed")
	// ErrTerminated: the pool was terminated before the task finished.
	ErrTerminated = errors.New("pool terminated")
	// ErrTimeout: the task ran over the pool's TaskTimeout; its worker was
	// killed and replaced.
	ErrTimeout = errors.New("task over its time limit")
	// ErrTooLarge: an argument or result does not fit the worker's arena
	// (the pool's ArenaSize).
	ErrTooLarge = errors.New("too large for the worker arena")
	// ErrInitializer: the pool's initializer failed in a worker; the pool
	// is broken.
	ErrInitializer = errors.New("pool initializer failed")
)

func init() {
	RegisterError(ErrPoolClosed, ErrTerminated, ErrTimeout, ErrTooLarge, ErrInitializer)
}

// WorkerError reports an item whose worker died while running it. It wraps
// ErrDied, and ErrTimeout too when the pool killed the worker for running
// over its time limit.
type WorkerError struct {
	Pid      int           // the worker's process id
	Func     string        // the registered function the item ran
	ExitCode int           // as Python reports it: the exit status, or -N for signal N
	TimedOut bool          // the pool killed the worker at its TaskTimeout
	Limit    time.Duration // the time limit, when TimedOut
	Attempts int           // how many times the item ran
}

func (e *WorkerError) Error() string {
	if e.TimedOut {
		return fmt.Sprintf("pool worker %d: %s: ran over its time limit of %v and was killed: %v",
			e.Pid, e.Func, e.Limit, ErrTimeout)
	}
	how := fmt.Sprintf("exited with status %d", e.ExitCode)
	if e.ExitCode < 0 {
		how = fmt.Sprintf("was killed by signal %d (%v)", -e.ExitCode, syscall.Signal(-e.ExitCode))
	}
	tries := ""
	if e.Attempts > 1 {
		tries = fmt.Sprintf(" (attempt %d)", e.Attempts)
	}
	return fmt.Sprintf("pool worker %d %s while running %s%s: %v", e.Pid, how, e.Func, tries, ErrDied)
}

// Unwrap returns ErrDied, and ErrTimeout for a time limit.
func (e *WorkerError) Unwrap() []error {
	if e.TimedOut {
		return []error{ErrDied, ErrTimeout}
	}
	return []error{ErrDied}
}

// PoolOption configures NewPool.
type PoolOption func(*poolConfig)

type poolConfig struct {
	workers     int
	maxTasks    int
	timeout     time.Duration
	retries     int
	depth       int
	arena       int64
	grace       time.Duration
	initFunc    string
	initArg     []byte
	initErr     error
	procOpts    []Option
	onProgress  func(PoolStats)
	progressSet bool
}

// Workers sets the number of worker processes; the default is CPUCount().
func Workers(n int) PoolOption { return func(c *poolConfig) { c.workers = n } }

// MaxTasksPerWorker replaces a worker after it has run n tasks (chunks), as
// Python's maxtasksperchild does; 0 (the default) never replaces one.
func MaxTasksPerWorker(n int) PoolOption { return func(c *poolConfig) { c.maxTasks = n } }

// TaskTimeout limits how long one item may run. A worker running an item
// longer is killed and replaced, and the item fails with a *WorkerError
// wrapping ErrTimeout. The limit is enforced within about d/8 (at least
// 1 ms). 0 (the default) means no limit.
func TaskTimeout(d time.Duration) PoolOption { return func(c *poolConfig) { c.timeout = d } }

// Retries runs an item again, up to n times, when its worker dies while
// running it (not when it returns an error or panics, and not at its time
// limit). The default is 0: the item fails with a *WorkerError.
func Retries(n int) PoolOption { return func(c *poolConfig) { c.retries = n } }

// QueueDepth bounds the tasks handed to one worker at a time, the running
// one included (default 64). 1 hands a worker its next task only once it
// finished the last: the fairest for long tasks, the slowest for tiny ones.
func QueueDepth(n int) PoolOption { return func(c *poolConfig) { c.depth = n } }

// ArenaSize sets the bytes of shared memory each worker has for arguments
// and results in flight (default 64 MiB, of address space: pages are used
// only when written). A single item larger than it fails with ErrTooLarge.
func ArenaSize(bytes int64) PoolOption { return func(c *poolConfig) { c.arena = bytes } }

// CancelGrace sets how long each cancelling stage waits before the next
// (default 200 ms): after a cancel, a worker still running a cancelled item
// gets SIGTERM after one grace, SIGKILL after two.
func CancelGrace(d time.Duration) PoolOption { return func(c *poolConfig) { c.grace = d } }

// WorkerOptions passes process options (Share, Env, Stdout, Prefix...) to
// every worker. Share is how workers reach shared regions: a Map over
// handles into a shared array then moves no data at all.
func WorkerOptions(opts ...Option) PoolOption {
	return func(c *poolConfig) { c.procOpts = append(c.procOpts, opts...) }
}

// OnProgress calls fn with the pool's statistics after each batch of
// results, from one goroutine at a time. fn must return quickly.
func OnProgress(fn func(PoolStats)) PoolOption { return func(c *poolConfig) { c.onProgress = fn } }

// Initializer runs f(arg) once in each worker before it takes tasks, like
// Python's initializer and initargs. If it fails, the pool breaks: pending
// and later tasks fail with an error wrapping ErrInitializer.
func Initializer[A, R any](f *Func[A, R], arg A) PoolOption {
	return func(c *poolConfig) {
		if f.err != nil {
			c.initErr = f.err
			return
		}
		b, err := wire.Encode(f.codec, arg, "initializer argument")
		c.initFunc, c.initArg, c.initErr = f.name, b, err
	}
}

// PoolStats are a pool's counters. Items are the elements of a Map or
// Imap, or one Submit or Apply each.
type PoolStats struct {
	Workers   int   // worker processes running
	Submitted int64 // items submitted
	Queued    int64 // items not yet handed to a worker
	InFlight  int64 // items handed to workers, without a result yet
	Done      int64 // items that returned a result
	Failed    int64 // items that failed: error, panic, worker death, time limit
	Cancelled int64 // items dropped because their job was cancelled
	Retried   int64 // items run again after their worker died
	Restarts  int64 // workers that died or were killed, and were replaced
	Recycled  int64 // workers replaced after MaxTasksPerWorker tasks
}

// Pool states.
const (
	poolOpen = iota
	poolClosing
	poolClosed
	poolTerminated
	poolBroken
)

// Pool is a pool of worker processes. Make one with NewPool, give it work
// with Map, Imap, ImapUnordered, Apply and Submit, and end it with Close or
// Terminate. All methods are safe for concurrent use.
type Pool struct {
	_   noCopy
	cfg poolConfig

	mu        sync.Mutex
	state     int
	brokenErr error
	queue     []*task // not yet handed out; front at queue[qhead]
	qhead     int
	workers   []*poolWorker // one per slot; nil while a replacement starts
	fids      map[string]uint32
	nextTask  uint64
	nextJob   uint64
	ewma      float64 // nanoseconds per task, smoothed
	badStarts int     // workers in a row that exited before they were ready
	badKills  int     // workers in a row killed by a signal before they were ready
	changed   chan struct{}
	cancelN   int // round robin over the cancel slots
	scratch   []byte
	taskFree  []*task // finished tasks, for reuse

	closeWaiters atomic.Int32 // goroutines in Close, waiting on changed

	live    sync.WaitGroup // collectors and starters
	stop    chan struct{}  // closed when the pool is closed or terminated: ends the watchdog
	stopped atomic.Bool

	progressMu sync.Mutex
	progress   chan PoolStats
	progressOn atomic.Bool

	st struct {
		workers                                       atomic.Int64
		submitted, queued, inflight, done, failed     atomic.Int64
		cancelled, retried, restarts, recycled, items atomic.Int64
	}
}

// poolWorker is one worker incarnation.
type poolWorker struct {
	slot     int
	proc     *Process[struct{}]
	region   *shm.Region
	tasks    *ring.SPSC[taskDesc]
	results  *ring.SPSC[resultDesc]
	heap     *shm.Heap
	seq      *atomic.Uint64
	ctl      shm.Block
	inflight []*task
	ihead    int
	sent     int
	known    map[uint32]bool
	heapFull bool
	outbox   []taskDesc    // tasks for this worker, pushed at the end of pump
	closing  bool          // its task ring was closed: no more tasks
	gone     bool          // its exit was handled
	reaped   chan struct{} // closed once the reaper is done with the region

	lastSeq    uint64    // watchdog: seq at the last sample
	lastSeqAt  time.Time // watchdog: when seq took that value
	timeoutSeq uint64    // watchdog: the odd seq at which it killed the worker
}

// task is a run of items [lo, hi) of a job. A queued task longer than
// chunk is carved into chunk-sized tasks as it is handed out.
type task struct {
	job      *job
	lo, hi   int
	chunk    int
	id       uint64
	attempts int
}

// job is the untyped side of one Map, Imap or Submit; its typed side
// (pool_map.go) encodes item i's argument and takes item i's result.
type job struct {
	id        uint64
	fn        string
	fid       uint32
	ops       jobOps
	cancelled atomic.Bool
}

// jobOps is the typed side of a job. encode appends item i's argument,
// length-prefixed. deliver takes item i's result (value is valid only
// during the call) or error; it runs on the pool's goroutines, possibly
// several at once for different items, exactly once per item unless the
// job was cancelled.
type jobOps interface {
	encode(dst []byte, i int) ([]byte, error)
	deliver(i int, value []byte, err error)
}

// NewPool starts a pool of worker processes. ctx bounds the start only.
func NewPool(ctx context.Context, opts ...PoolOption) (*Pool, error) {
	cfg := poolConfig{depth: 64, arena: 64 << 20, grace: 200 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.workers == 0 {
		cfg.workers = CPUCount()
	}
	switch {
	case cfg.workers < 0 || cfg.workers > 4096:
		return nil, fmt.Errorf("new pool: %d workers (want 1..4096)", cfg.workers)
	case cfg.depth < 1 || cfg.depth > 1<<16:
		return nil, fmt.Errorf("new pool: queue depth %d (want 1..65536)", cfg.depth)
	case cfg.arena < 1<<16 || cfg.arena > 1<<40:
		return nil, fmt.Errorf("new pool: arena of %d bytes (want 64 KiB..1 TiB)", cfg.arena)
	case cfg.maxTasks < 0 || cfg.retries < 0 || cfg.timeout < 0 || cfg.grace < 0:
		return nil, fmt.Errorf("new pool: negative option")
	case cfg.initErr != nil:
		return nil, fmt.Errorf("new pool: initializer: %w", cfg.initErr)
	}
	if workerFunc.err != nil {
		return nil, fmt.Errorf("new pool: %w", workerFunc.err)
	}
	p := &Pool{
		cfg:      cfg,
		workers:  make([]*poolWorker, cfg.workers),
		fids:     map[string]uint32{},
		changed:  make(chan struct{}),
		stop:     make(chan struct{}),
		progress: make(chan PoolStats, 1),
	}
	var errs []error
	var emu sync.Mutex
	var wg sync.WaitGroup
	for i := range cfg.workers {
		wg.Go(func() {
			w, err := p.startWorker(ctx, i)
			if err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
				return
			}
			p.mu.Lock()
			p.workers[i] = w
			p.mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		p.Terminate(context.Background())
		return nil, fmt.Errorf("new pool: %w", errors.Join(errs...))
	}
	if cfg.timeout > 0 {
		p.live.Go(p.watchdog)
	}
	return p, nil
}

// Workers returns the number of worker slots.
func (p *Pool) Workers() int { return p.cfg.workers }

// Pids returns the process ids of the running workers.
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, w := range p.workers {
		if w != nil && !w.gone {
			pids = append(pids, w.proc.Pid())
		}
	}
	return pids
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	return PoolStats{
		Workers:   int(p.st.workers.Load()),
		Submitted: p.st.submitted.Load(),
		Queued:    p.st.queued.Load(),
		InFlight:  p.st.inflight.Load(),
		Done:      p.st.done.Load(),
		Failed:    p.st.failed.Load(),
		Cancelled: p.st.cancelled.Load(),
		Retried:   p.st.retried.Load(),
		Restarts:  p.st.restarts.Load(),
		Recycled:  p.st.recycled.Load(),
	}
}

// Progress returns a channel that always holds the latest statistics after
// a change: a progress bar reads it whenever it likes and never misses the
// final state (a newer value replaces an unread older one).
func (p *Pool) Progress() <-chan PoolStats {
	p.progressOn.Store(true)
	return p.progress
}

func (p *Pool) reportProgress() {
	if !p.progressOn.Load() && p.cfg.onProgress == nil {
		return
	}
	p.progressMu.Lock()
	defer p.progressMu.Unlock()
	s := p.Stats()
	select {
	case <-p.progress:
	default:
	}
	p.progress <- s
	if p.cfg.onProgress != nil {
		p.cfg.onProgress(s)
	}
}

// startWorker makes a worker incarnation's region and starts its process.
func (p *Pool) startWorker(ctx context.Context, slot int) (*poolWorker, error) {
	depth := p.cfg.depth
	ringBytes := int64(320+64*depth+128) * 2
	size := p.cfg.arena + ringBytes + ctlSize + 64<<10
	r, err := shm.New(size)
	if err != nil {
		return nil, fmt.Errorf("start pool worker: %w", err)
	}
	fail := func(err error) (*poolWorker, error) {
		r.Close()
		return nil, fmt.Errorf("start pool worker: %w", err)
	}
	ctl, err := r.Alloc(shm.Layout{Kind: KindPoolControl, Size: ctlSize})
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
		Control: ctl.Handle(), Tasks: tasks.Handle(), Results: results.Handle(), Heap: heap.Handle(),
		InitFunc: p.cfg.initFunc, InitArg: p.cfg.initArg, MaxTasks: p.cfg.maxTasks,
	}
	popts := append([]Option{Name(fmt.Sprintf("PoolWorker-%d", slot+1))}, p.cfg.procOpts...)
	popts = append(popts, Share(r))
	proc, err := workerFunc.Start(ctx, arg, popts...)
	if err != nil {
		return fail(err)
	}
	w := &poolWorker{
		slot: slot, proc: proc, region: r, tasks: tasks, results: results, heap: heap,
		seq: ctl.Uint64(ctlSeq), ctl: ctl, known: map[uint32]bool{}, reaped: make(chan struct{}),
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
// exit.
func (p *Pool) collect(w *poolWorker) {
	var batch [32]resultDesc
	var finished []*task
	for {
		n, err := w.results.PopSome(context.Background(), batch[:])
		if err != nil {
			break // closed by the reaper, and drained
		}
		for i := range n {
			if t := p.onResult(w, &batch[i]); t != nil {
				finished = append(finished, t)
			}
		}
		p.mu.Lock()
		for _, t := range finished {
			if len(p.taskFree) < 4096 {
				*t = task{}
				p.taskFree = append(p.taskFree, t)
			}
		}
		clear(finished)
		finished = finished[:0]
		fails := p.pump(nil)
		p.mu.Unlock()
		p.deliverFailures(fails)
		p.signalChange()
		p.reportProgress()
	}
	p.onExit(w)
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
func (p *Pool) pick(depth int) *poolWorker {
	var best *poolWorker
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

type failure struct {
	job *job
	i   int
	err error
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
		if w == nil || len(w.outbox) == 0 {
			continue
		}
		n, err := w.tasks.PushBatch(w.outbox)
		if err != nil || n != len(w.outbox) {
			// The ring holds depth slots and a worker never has more than
			// depth tasks in flight; only Close refuses, and closing
			// workers get no tasks.
			panic(fmt.Sprintf("forkless/spawn: pool task ring took %d of %d tasks: %v", n, len(w.outbox), err))
		}
		w.outbox = w.outbox[:0]
	}
	return fails
}

func (p *Pool) pumpQueue(fails []failure, depth int) []failure {
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
		if t.hi-t.lo > t.chunk {
			t = p.newTask(t.job, t.lo, t.lo+t.chunk, t.chunk, t.attempts)
			p.queue[p.qhead].lo += t.chunk
		} else {
			p.popQueue()
		}
		var ok bool
		fails, ok = p.send(w, t, fails)
		if !ok {
			p.pushFront(t) // the worker's heap is full: it will take it later, or another will
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
func (p *Pool) newTask(j *job, lo, hi, chunk, attempts int) *task {
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

// send encodes t's items into a descriptor and pushes it to w. It returns
// false when w's heap has no room now (t was not sent). Called with p.mu
// held.
func (p *Pool) send(w *poolWorker, t *task, fails []failure) ([]failure, bool) {
	j := t.job
	buf := p.scratch[:0]
	var flags uint32
	if !w.known[j.fid] {
		flags |= flagName
		buf = wire.AppendString(buf, j.fn)
	}
	for i := t.lo; i < t.hi; i++ {
		var err error
		if buf, err = j.ops.encode(buf, i); err != nil {
			for k := t.lo; k < t.hi; k++ {
				fails = append(fails, failure{j, k, fmt.Errorf("map %s: item %d: %w", j.fn, k, err)})
			}
			p.st.queued.Add(-int64(t.hi - t.lo))
			return fails, true
		}
	}
	p.scratch = buf[:0]
	d := taskDesc{Job: j.id, Fid: j.fid, Flags: flags, Count: uint32(t.hi - t.lo), Len: uint32(len(buf))}
	if len(buf) <= len(d.Inline) {
		copy(d.Inline[:], buf)
	} else {
		off, err := w.heap.Alloc(int64(len(buf)))
		if err != nil {
			if errors.Is(err, shm.ErrNoSpace) && len(w.inflight) > w.ihead {
				w.heapFull = true // its in-flight tasks will free room
				return fails, false
			}
			if t.hi-t.lo > 1 {
				// Halve the task and try again.
				mid := t.lo + (t.hi-t.lo)/2
				p.pushFront(&task{job: j, lo: mid, hi: t.hi, chunk: t.hi - mid, attempts: t.attempts})
				p.pushFront(&task{job: j, lo: t.lo, hi: mid, chunk: mid - t.lo, attempts: t.attempts})
				return fails, true
			}
			p.st.queued.Add(-1)
			return append(fails, failure{j, t.lo, fmt.Errorf("%s: argument %d of %d bytes: %v: %w",
				j.fn, t.lo, len(buf), err, ErrTooLarge)}), true
		}
		b, err := w.heap.Bytes(off, int64(len(buf)))
		if err != nil {
			panic("forkless/spawn: pool heap block out of range: " + err.Error())
		}
		copy(b, buf)
		d.Flags |= flagHeap
		d.Off = off
	}
	p.nextTask++
	d.ID, t.id = p.nextTask, p.nextTask
	w.outbox = append(w.outbox, d) // pushed at the end of pump
	w.known[j.fid] = true
	w.inflight = append(w.inflight, t)
	w.sent++
	n := int64(t.hi - t.lo)
	p.st.queued.Add(-n)
	p.st.inflight.Add(n)
	return fails, true
}

// submit queues items [0, n) of j in tasks of chunk items.
func (p *Pool) submit(j *job, lo, hi, chunk int) error {
	p.mu.Lock()
	if err := p.acceptErr(); err != nil {
		p.mu.Unlock()
		return err
	}
	if j.id == 0 {
		p.nextJob++
		j.id = p.nextJob
		fid, ok := p.fids[j.fn]
		if !ok {
			fid = uint32(len(p.fids) + 1)
			p.fids[j.fn] = fid
		}
		j.fid = fid
	}
	p.queue = append(p.queue, &task{job: j, lo: lo, hi: hi, chunk: max(chunk, 1)})
	p.st.submitted.Add(int64(hi - lo))
	p.st.queued.Add(int64(hi - lo))
	fails := p.pumpTo(nil, min(2, p.depth()))
	p.mu.Unlock()
	p.deliverFailures(fails)
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

// signalChange wakes everyone waiting for the pool's state to move (Close).
// It costs nothing when nobody waits. No wake-up is lost:
//
//	C1 closeWaiters += 1          S1 change the state, under p.mu
//	C2 lock; if idle: done        S2 if closeWaiters == 0: return
//	C3 ch := p.changed; unlock    S3 lock; close(p.changed); replace it; unlock
//	C4 wait on ch
//
// If S2 reads 0, C1 comes after S2, so C2 (after C1) locks after S1 and
// sees the change. If S2 reads non-zero, S3 closes the channel C3 took
// (C3 before S3 in lock order), or C3 comes after S3 and C2 already saw
// the change under the same lock.
func (p *Pool) signalChange() {
	if p.closeWaiters.Load() == 0 {
		return
	}
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// onResult takes one result descriptor of w. It returns the task it
// finished, for reuse, or nil.
func (p *Pool) onResult(w *poolWorker, d *resultDesc) *task {
	p.mu.Lock()
	if w.ihead == len(w.inflight) {
		// Terminate already failed everything in flight.
		p.mu.Unlock()
		if d.Flags&flagHeap != 0 {
			w.heap.Free(d.Off)
		}
		return nil
	}
	t := w.inflight[w.ihead]
	if t.id != d.ID {
		// The worker broke the protocol (its memory is not ours to trust):
		// kill it; its exit fails or requeues its tasks as for any death.
		p.mu.Unlock()
		w.proc.Kill()
		return nil
	}
	w.inflight[w.ihead] = nil
	w.ihead++
	if w.ihead == len(w.inflight) {
		w.inflight, w.ihead = w.inflight[:0], 0
	} else if w.ihead >= 64 && w.ihead*2 >= len(w.inflight) {
		n := copy(w.inflight, w.inflight[w.ihead:])
		clear(w.inflight[n:])
		w.inflight, w.ihead = w.inflight[:n], 0
	}
	w.heapFull = false
	if ns := float64(d.Nanos); p.ewma == 0 {
		p.ewma = ns
	} else {
		p.ewma += (ns - p.ewma) / 8
	}
	p.mu.Unlock()

	n := t.hi - t.lo
	var payload []byte
	var perr error
	switch {
	case d.Flags&flagTooLarge != 0:
		perr = fmt.Errorf("%s: results of %d bytes: %w", t.job.fn, d.Len, ErrTooLarge)
	case d.Flags&flagHeap != 0:
		payload, perr = w.heap.Bytes(d.Off, int64(d.Len))
	case d.Len <= uint32(len(d.Inline)):
		payload = d.Inline[:d.Len]
	default:
		perr = fmt.Errorf("inline result of %d bytes: %w", d.Len, errChunk)
	}
	// Count first, deliver second: the counters must be right before the
	// last delivery, which may end a Map whose caller reads Stats at once.
	parsed, okN, skipN := 0, 0, 0
	if perr == nil {
		perr = parseResults(payload, n, func(i int, it itemResult) {
			parsed++
			switch it.status {
			case itemOK:
				okN++
			case itemSkipped:
				skipN++
			}
		})
	}
	p.st.inflight.Add(-int64(n))
	if t.job.cancelled.Load() {
		p.st.cancelled.Add(int64(n))
	} else {
		p.st.done.Add(int64(okN))
		p.st.failed.Add(int64(n - okN - skipN))
		p.st.cancelled.Add(int64(skipN))
		if parsed > 0 {
			parseResults(payload, parsed, func(i int, it itemResult) {
				switch it.status {
				case itemOK:
					t.job.ops.deliver(t.lo+i, it.value, nil)
				case itemSkipped:
					// Only a cancelled job's items are skipped; should one of
					// a live job be, it must still be delivered, or its Map
					// would wait forever.
					t.job.ops.deliver(t.lo+i, nil, fmt.Errorf("pool worker %d skipped the item: %w", w.proc.Pid(), context.Canceled))
				default:
					t.job.ops.deliver(t.lo+i, nil, childError(w.proc.Pid(), t.job.fn, w.proc.Name(), it.err))
				}
			})
		}
		for i := parsed; i < n; i++ {
			t.job.ops.deliver(t.lo+i, nil, fmt.Errorf("pool worker %d: %w", w.proc.Pid(), perr))
		}
	}
	if d.Flags&flagHeap != 0 {
		w.heap.Free(d.Off)
	}
	return t
}

// onExit handles the end of a worker process, once its results are
// drained: see "Failure handling" above.
func (p *Pool) onExit(w *poolWorker) {
	_, exitErr := w.proc.Wait(context.Background())
	code, _ := w.proc.ExitCode()
	ready := w.ctl.Uint32(ctlReady).Load() != 0
	seq := w.seq.Load()
	running, base := w.ctl.Uint64(ctlTask).Load(), w.ctl.Uint64(ctlBase).Load()
	item := int((seq - 1 - base) / 2) // meaningful when seq is odd

	var fails []failure
	p.mu.Lock()
	w.gone = true
	p.st.workers.Add(-1)
	inflight := w.inflight[w.ihead:]
	w.inflight, w.ihead = nil, 0
	// Back to the front of the queue, last first, so they keep their order.
	for k := len(inflight) - 1; k >= 0; k-- {
		t := inflight[k]
		n := t.hi - t.lo
		p.st.inflight.Add(-int64(n))
		if k > 0 || seq%2 == 0 || t.id != running || item >= n {
			p.requeue(t)
			continue
		}
		// t was running item lo+item when the worker died.
		if item+1 < n {
			p.requeue(&task{job: t.job, lo: t.lo + item + 1, hi: t.hi, chunk: t.chunk, attempts: t.attempts})
		}
		timedOut := w.timeoutSeq == seq
		if !timedOut && t.attempts < p.cfg.retries && !t.job.cancelled.Load() {
			p.st.retried.Add(1)
			p.requeue(&task{job: t.job, lo: t.lo + item, hi: t.lo + item + 1, chunk: 1, attempts: t.attempts + 1})
		} else {
			fails = append(fails, failure{t.job, t.lo + item, &WorkerError{
				Pid: w.proc.Pid(), Func: t.job.fn, ExitCode: code, TimedOut: timedOut,
				Limit: p.cfg.timeout, Attempts: t.attempts + 1,
			}})
		}
		if item > 0 {
			p.requeue(&task{job: t.job, lo: t.lo, hi: t.lo + item, chunk: t.chunk, attempts: t.attempts})
		}
	}
	replace := false
	switch {
	case p.state != poolOpen && p.state != poolClosing:
	case !ready && p.cfg.initFunc != "" && isChildError(exitErr):
		fails = p.breakLocked(fmt.Errorf("pool worker %d: %w: %w", w.proc.Pid(), ErrInitializer, exitErr), fails)
	case !ready && (code >= 0 && p.badStarts >= 2 || p.badKills >= 9):
		// Three workers in a row that exited on their own before they were
		// ready (a binary that does not call spawn.Main, a crash at start),
		// or ten killed by signals: restarting more would loop forever.
		fails = p.breakLocked(fmt.Errorf("pool workers keep dying before they are ready; the last: %w", exitErr), fails)
	default:
		switch {
		case ready:
			p.badStarts, p.badKills = 0, 0
		case code >= 0:
			p.badStarts++
		default:
			p.badKills++ // killed while starting: someone else's doing, most likely
		}
		if code == 0 && p.cfg.maxTasks > 0 && w.sent >= p.cfg.maxTasks {
			p.st.recycled.Add(1)
		} else {
			p.st.restarts.Add(1)
		}
		replace = true
		p.workers[w.slot] = nil
	}
	// The requeued tasks go to the other workers now, not after the
	// replacement has started; cancelled ones are dropped.
	fails = p.pump(fails)
	p.mu.Unlock()
	p.deliverFailures(fails)
	<-w.reaped // Close wakes sleepers after the collector may have seen it
	w.region.Close()
	if replace {
		p.replace(w.slot)
	}
	p.signalChange()
	p.reportProgress()
}

func isChildError(err error) bool {
	var ce *ChildError
	return errors.As(err, &ce)
}

// requeue puts t at the front of the queue. Called with p.mu held.
func (p *Pool) requeue(t *task) {
	t.id = 0
	p.pushFront(t)
	p.st.queued.Add(int64(t.hi - t.lo))
}

// replace starts a new worker in slot. A start that fails breaks the pool.
func (p *Pool) replace(slot int) {
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

// cancelJob runs the cancelling stages for j (see "Failure handling").
func (p *Pool) cancelJob(j *job) {
	if j.cancelled.Swap(true) {
		return
	}
	p.mu.Lock()
	// (1) Drop its queued tasks.
	kept := p.queue[:p.qhead]
	for _, t := range p.queue[p.qhead:] {
		if t.job == j {
			p.st.queued.Add(-int64(t.hi - t.lo))
			p.st.cancelled.Add(int64(t.hi - t.lo))
			continue
		}
		kept = append(kept, t)
	}
	clear(p.queue[len(kept):])
	p.queue = kept
	// (2) Tell the workers to skip its items.
	slot := p.cancelN % ctlSlots
	p.cancelN++
	var holding []*poolWorker
	for _, w := range p.workers {
		if w == nil || w.gone {
			continue
		}
		w.ctl.Uint64(ctlCancel + 8*int64(slot)).Store(j.id)
		w.ctl.Uint64(ctlCancelGen).Add(1) // publishes the slot
		for _, t := range w.inflight[w.ihead:] {
			if t.job == j {
				holding = append(holding, w)
				break
			}
		}
	}
	fails := p.pump(nil)
	p.mu.Unlock()
	p.deliverFailures(fails)
	if len(holding) == 0 {
		return
	}
	// (3) and (4): SIGTERM, then SIGKILL, to workers still running its items.
	grace := p.cfg.grace
	go func() {
		for stage := 0; stage < 2; stage++ {
			deadline := time.Now().Add(grace)
			for {
				busy := p.runningJob(holding, j.id)
				if len(busy) == 0 {
					return
				}
				if time.Now().After(deadline) {
					for _, w := range busy {
						if stage == 0 {
							w.proc.Terminate()
						} else {
							w.proc.Kill()
						}
					}
					break
				}
				time.Sleep(min(5*time.Millisecond, grace/4+time.Microsecond))
			}
		}
	}()
}

// runningJob returns the workers of ws still running an item of job id.
func (p *Pool) runningJob(ws []*poolWorker, id uint64) []*poolWorker {
	var out []*poolWorker
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range ws {
		if w.gone {
			continue
		}
		if w.seq.Load()%2 == 1 && w.ctl.Uint64(ctlJob).Load() == id {
			out = append(out, w)
		}
	}
	return out
}

// watchdog kills workers whose item runs over the time limit.
func (p *Pool) watchdog() {
	limit := p.cfg.timeout
	tick := time.NewTicker(max(limit/8, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			p.mu.Lock()
			for _, w := range p.workers {
				if w == nil || w.gone {
					continue
				}
				s := w.seq.Load()
				switch {
				case s%2 == 0 || s != w.lastSeq:
					w.lastSeq, w.lastSeqAt = s, now
				case now.Sub(w.lastSeqAt) > limit && w.timeoutSeq != s:
					w.timeoutSeq = s
					w.proc.Kill()
				}
			}
			p.mu.Unlock()
		}
	}
}

// idleLocked reports whether nothing is queued or in flight.
func (p *Pool) idleLocked() bool {
	if p.qhead < len(p.queue) {
		return false
	}
	for _, w := range p.workers {
		if w == nil {
			return false // a replacement is starting
		}
		if !w.gone && w.ihead < len(w.inflight) {
			return false
		}
	}
	return true
}

// Close stops the pool from taking new work, waits until every task
// submitted so far has finished, then lets the workers exit and waits for
// them: Python's close() then join(). If ctx ends first, Close terminates
// the pool (Terminate) and returns ctx's error. Closing twice is not an
// error. Closing a pool that broke (see Initializer) returns why it broke.
func (p *Pool) Close(ctx context.Context) error {
	p.closeWaiters.Add(1)
	defer p.closeWaiters.Add(-1)
	p.mu.Lock()
	if p.state == poolOpen {
		p.state = poolClosing
	}
	for p.state == poolClosing && !p.idleLocked() {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.Terminate(context.Background())
			return fmt.Errorf("close pool: %w", ctx.Err())
		}
		p.mu.Lock()
	}
	if p.state == poolClosing {
		p.state = poolClosed
		for _, w := range p.workers {
			if w != nil && !w.gone {
				w.closing = true
				w.tasks.Close() // the worker drains nothing and exits
			}
		}
		if p.stopped.CompareAndSwap(false, true) {
			close(p.stop)
		}
	}
	broken := p.brokenErr
	p.mu.Unlock()
	if err := p.waitWorkers(ctx); err != nil {
		p.Terminate(context.Background())
		return fmt.Errorf("close pool: %w", err)
	}
	if broken != nil {
		return fmt.Errorf("close pool: %w", broken)
	}
	return nil
}

// Terminate stops the pool now, like Python's terminate(): queued and
// running items fail with ErrTerminated, workers get SIGTERM and, after the
// CancelGrace (or when ctx ends, if sooner), SIGKILL. It returns once every
// worker is reaped. Terminating twice, or after Close, is not an error.
func (p *Pool) Terminate(ctx context.Context) error {
	p.mu.Lock()
	var fails []failure
	if p.state != poolTerminated {
		if p.state != poolClosed && p.state != poolBroken {
			fails = p.failAllLocked(fmt.Errorf("pool: %w", ErrTerminated), nil)
		} else {
			p.failAllLocked(ErrTerminated, nil)
		}
		p.state = poolTerminated
	}
	p.mu.Unlock()
	p.deliverFailures(fails)
	gctx, cancel := context.WithTimeout(ctx, p.cfg.grace)
	err := p.waitWorkers(gctx)
	cancel()
	if err != nil {
		p.mu.Lock()
		for _, w := range p.workers {
			if w != nil {
				w.proc.Kill()
			}
		}
		p.mu.Unlock()
		// SIGKILL cannot be refused: the reap follows promptly.
		p.waitWorkers(context.Background())
	}
	return nil
}

// waitWorkers waits until every collector and starter has finished.
func (p *Pool) waitWorkers(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.live.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
