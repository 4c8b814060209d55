package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/internal/shutdown"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Pool states.
const (
	poolOpen = iota
	poolClosing
	poolClosed
	poolTerminated
	poolBroken
)

// Pool is a pool of worker processes, an Executor. Make one with New, give
// it work with Map, Imap, ImapUnordered, Apply and Submit, and end it with
// Close or Terminate. All methods are safe for concurrent use.
type Pool struct {
	_   noCopy
	cfg config

	mu        sync.Mutex
	state     int
	brokenErr error
	queue     []*task // not yet handed out; front at queue[qhead]
	qhead     int
	workers   []*worker // one per slot; nil while a replacement starts
	fids      map[string]uint32
	nextTask  uint64
	groups    int64 // descriptors that carried a group of tasks (group.go), for tests
	nextJob   uint64
	ewma      float64 // nanoseconds per task, smoothed
	badStarts int     // workers in a row that exited or crashed before ready, none ready meanwhile
	slotFails []int   // per slot: its workers in a row that died before ready (the restart pause)
	changed   chan struct{}
	cancelN   int // round robin over the cancel slots
	scratch   []byte
	taskFree  []*task // finished tasks, for reuse

	closeWaiters atomic.Int32 // goroutines in Close, waiting on changed

	live    sync.WaitGroup // collectors and starters
	stop    chan struct{}  // closed when the pool is closed or terminated: ends the watchdog
	stopped atomic.Bool
	unhook  func() // removes the pool's teardown from spawn.Shutdown's

	progressMu   sync.Mutex
	progress     chan Stats
	progressOn   atomic.Bool
	progressWake chan struct{} // a token when work is submitted with progress on
	epoch        time.Time     // task times are kept as durations since it
	finishedHi   atomic.Int64  // the highest Stats.Finished reported
	rate         rateMeter
	runTime      histogram // under mu
	latency      histogram // under mu

	st struct {
		workers                                       atomic.Int64
		submitted, queued, inflight, done, failed     atomic.Int64
		cancelled, retried, restarts, recycled, items atomic.Int64
	}
}

// worker is one worker incarnation, as the parent sees it.
type worker struct {
	slot     int
	proc     *spawn.Process[struct{}]
	region   *shm.Region
	tasks    *ring.SPSC[taskDesc]
	results  *ring.SPSC[resultDesc]
	heap     *shm.Heap
	ctl      *control
	inflight []*task
	ihead    int
	sent     int
	known    map[uint32]bool
	heapFull bool
	outbox   []taskDesc    // tasks for this worker, pushed at the end of pump
	closing  bool          // its task ring was closed: no more tasks
	gone     bool          // its exit was handled
	reaped   chan struct{} // closed once the reaper is done with the region

	delivered int64 // items of tasks whose results the parent took from it

	stallSeq       uint64    // stall check: seq at stallAt
	stallDelivered int64     // stall check: delivered at stallAt
	stallAt        time.Time // stall check: since when seq and delivered stood still

	lastSeq    uint64    // watchdog: seq at the last sample
	lastSeqAt  time.Time // watchdog: when seq took that value
	timeoutSeq uint64    // watchdog: the odd seq at which it killed the worker
}

// task is a run of items [lo, hi) of a job. A queued task longer than
// chunk is carved into chunk-sized tasks as it is handed out.
type task struct {
	job      *Job
	lo, hi   int
	chunk    int
	id       uint64
	attempts int
	sent     time.Duration // when it was handed to a worker, since p.epoch
	// group: when this task went to its worker first of several one-item
	// tasks sharing a descriptor (flagGroup, group.go), how many; else 0.
	group int
}

// New starts a pool of worker processes. ctx bounds the start only.
func New(ctx context.Context, opts ...Option) (*Pool, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.workersSet {
		cfg.workers = spawn.CPUCount()
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("new pool: %w", err)
	}
	if err := workerFunc.Err(); err != nil {
		return nil, fmt.Errorf("new pool: %w", err)
	}
	p := &Pool{
		cfg:       cfg,
		workers:   make([]*worker, cfg.workers),
		slotFails: make([]int, cfg.workers),
		fids:      map[string]uint32{},
		changed:   make(chan struct{}),
		stop:      make(chan struct{}),
		progress:  make(chan Stats, 1),

		progressWake: make(chan struct{}, 1),
		epoch:        time.Now(),
		unhook:       func() {},
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
	p.progressOn.Store(cfg.onProgress != nil)
	p.live.Go(p.progressLoop)
	// Python's pool workers are daemonic, and an open pool is terminated
	// when its process ends: a process that returns with a pool still open
	// must not wait for workers that wait for tasks (nor have the pool
	// replace the workers Shutdown stops). spawn.Shutdown runs this, as a
	// spawned child does when its function returns.
	remove := shutdown.Add(func(ctx context.Context) { p.Terminate(ctx) })
	p.mu.Lock()
	p.unhook = remove
	p.mu.Unlock()
	return p, nil
}

// check says what is wrong with the options, or nil.
func (c *config) check() error {
	switch {
	case c.workers < 1 || c.workers > 4096:
		return fmt.Errorf("Workers(%d) (want 1..4096): %w", c.workers, ErrWorkers)
	case c.depth < 1 || c.depth > 1<<16:
		return fmt.Errorf("queue depth %d (want 1..65536)", c.depth)
	case c.arena < 1<<16 || c.arena > 1<<40:
		return fmt.Errorf("arena of %d bytes (want 64 KiB..1 TiB)", c.arena)
	case c.maxTasks < 0 || c.retries < 0 || c.timeout < 0 || c.grace < 0 || c.progressEvery <= 0:
		return fmt.Errorf("negative option")
	case c.initErr != nil:
		return fmt.Errorf("initializer: %w", c.initErr)
	}
	return nil
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
