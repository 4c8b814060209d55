package pool

import (
	"time"

	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/spawn"
)

// Option configures New.
type Option func(*config)

type config struct {
	workers    int
	workersSet bool // Workers was given: 0 is then an error, not the default
	maxTasks   int
	timeout    time.Duration
	retries    int
	depth      int
	arena      int64
	grace      time.Duration
	initFunc   string
	initArg    []byte
	initErr    error
	procOpts   []spawn.Option
	onProgress func(Stats)

	progressEvery time.Duration
}

// defaults are the options New starts from.
func defaults() config {
	return config{depth: 512, arena: 64 << 20, grace: 200 * time.Millisecond, progressEvery: 200 * time.Millisecond}
}

// Workers sets the number of worker processes, 1 to 4096; New refuses
// any other n with ErrWorkers. Without it a pool has spawn.CPUCount()
// workers.
func Workers(n int) Option { return func(c *config) { c.workers, c.workersSet = n, true } }

// MaxTasksPerWorker replaces a worker after it has run n tasks (chunks), as
// Python's maxtasksperchild does; 0 (the default) never replaces one.
func MaxTasksPerWorker(n int) Option { return func(c *config) { c.maxTasks = n } }

// TaskTimeout limits how long one item may run. A worker running an item
// longer is killed and replaced, and the item fails with a *WorkerError
// wrapping ErrTimeout. The limit is enforced within about d/8 (at least
// 1 ms). 0 (the default) means no limit.
func TaskTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Retries runs an item again, up to n times, when its worker dies while
// running it (not when it returns an error or panics, and not at its time
// limit). The default is 0: the item fails with a *WorkerError.
func Retries(n int) Option { return func(c *config) { c.retries = n } }

// QueueDepth bounds the tasks handed to one worker at a time, the running
// one included (default 512). 1 hands a worker its next task only once it
// finished the last: the fairest for long tasks, the slowest for tiny ones.
func QueueDepth(n int) Option { return func(c *config) { c.depth = n } }

// ArenaSize sets the bytes of shared memory each worker has for arguments
// and results in flight (default 64 MiB, of address space: pages are used
// only when written). A single item larger than it fails with ErrTooLarge.
func ArenaSize(bytes int64) Option { return func(c *config) { c.arena = bytes } }

// CancelGrace sets how long each cancelling stage waits before the next
// (default 200 ms): after a cancel, a worker still running a cancelled item
// gets SIGTERM after one grace, SIGKILL after two.
func CancelGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WorkerOptions passes process options (spawn.Share, spawn.Env,
// spawn.Stdout, spawn.Prefix...) to every worker. Share is how workers
// reach shared regions: a Map over handles into a shared array then moves
// no data at all.
func WorkerOptions(opts ...spawn.Option) Option {
	return func(c *config) { c.procOpts = append(c.procOpts, opts...) }
}

// OnProgress calls fn with the pool's statistics after each batch of
// results, and every ProgressInterval while work is queued or running (so
// a long chunk reports its items as they finish), from one goroutine at a
// time. fn must return quickly.
func OnProgress(fn func(Stats)) Option { return func(c *config) { c.onProgress = fn } }

// ProgressInterval sets how often OnProgress and the Progress channel get a
// snapshot while the pool has work (default 200 ms); an idle pool sends
// none.
func ProgressInterval(d time.Duration) Option { return func(c *config) { c.progressEvery = d } }

// Initializer runs f(arg) once in each worker before it takes tasks, like
// Python's initializer and initargs. If it fails, the pool breaks: pending
// and later tasks fail with an error wrapping ErrInitializer.
func Initializer[A, R any](f *spawn.Func[A, R], arg A) Option {
	return func(c *config) {
		if err := f.Err(); err != nil {
			c.initErr = err
			return
		}
		b, err := wire.Encode(f.Codec(), arg, "initializer argument")
		c.initFunc, c.initArg, c.initErr = f.Name(), b, err
	}
}
