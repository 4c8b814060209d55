package pool

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/internal/registry"
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/spawn"
)

// Executor runs the items of jobs somewhere: Map, Imap, ImapUnordered,
// Apply and Submit take one. *Pool is the executor of this package (worker
// processes on this machine); another module may implement its own (a
// cluster of machines), with exported types only:
//
//   - a [Job] names its function by the name it was registered under
//     (spawn.Register), which is the same in every process and every
//     machine running the binary; [Job.AppendArg] gives item i's argument
//     as bytes, and [Job.Deliver] takes item i's result as bytes;
//   - wherever the item runs, [RunEncoded] runs the named function on those
//     bytes and returns the result bytes, or a *spawn.ChildError whose
//     fields are all exported: an executor may marshal it, send it and
//     rebuild it, and errors.Is still finds the sentinels it wrapped
//     (ChildError.Keys).
//
// The contract:
//
//   - RunJob queues items [lo, hi) of job, to run in tasks of at most chunk
//     items. It is called once per Map and per Submit, and once per window
//     block of an Imap, with the same job: an index is given again only
//     after its Deliver. An error means nothing of [lo, hi) was queued
//     (the executor is closed, say); it is wrapped and reported by the
//     caller.
//   - The executor calls job.Deliver exactly once for every queued item,
//     with the result bytes or an error, from any goroutine, concurrently
//     for different items, in any order; unless the job was cancelled:
//     then it may drop the items it has not delivered.
//   - CancelJob tells the executor that nobody wants the job's results any
//     more (a context ended, an Imap loop was left, Future.Cancel): it
//     should stop queued items and may stop running ones. It must not block
//     for long, and may be called more than once.
//   - MarkRunning, optional, says that an item of the job started.
//   - Workers says how many items run at once: Map's default chunk size
//     and Imap's default window follow it.
type Executor interface {
	Workers() int
	RunJob(job *Job, lo, hi, chunk int) error
	CancelJob(job *Job)
}

// Job is one Map, Imap or Submit call as an Executor sees it: a registered
// function and items indexed from 0. The pool functions make jobs; an
// executor only reads them.
type Job struct {
	fn       string
	codec    spawn.Codec
	ops      jobOps
	deadline time.Time // the caller's context's, zero: none

	// The Pool's bookkeeping (another executor keeps its own, keyed by the
	// *Job if it needs to).
	id        uint64
	fid       uint32
	cancelled atomic.Bool
	running   atomic.Bool // an item was handed to a worker (MarkRunning)
	// ungrouped: under the Pool's mutex; two of its one-item tasks'
	// arguments once did not fit a descriptor together, so its tasks are
	// no longer tried as groups (group.go).
	ungrouped bool
}

// jobOps is the typed side of a job.
type jobOps interface {
	appendArg(dst []byte, i int) ([]byte, error)
	deliver(i int, value []byte, err error)
}

// Func returns the name the job's function was registered under.
func (j *Job) Func() string { return j.fn }

// Codec returns the codec the function's values travel through when they
// are not fixed-size and pointer-free (then they travel raw).
func (j *Job) Codec() spawn.Codec { return j.codec }

// AppendArg appends the encoding of item i's argument to dst: the bytes
// RunEncoded takes.
func (j *Job) AppendArg(dst []byte, i int) ([]byte, error) { return j.ops.appendArg(dst, i) }

// Deliver hands in item i's result: result, the bytes RunEncoded returned
// (read only during the call), or err. See Executor for when to call it.
func (j *Job) Deliver(i int, result []byte, err error) { j.ops.deliver(i, result, err) }

// MarkRunning records that an item of the job was handed to where it
// runs: a Submit's Future.Running reports it. An executor calls it when it
// can (the Pool does when it hands a task to a worker); one that does not
// leaves its futures never Running, which is all it costs.
func (j *Job) MarkRunning() {
	if !j.running.Load() { // most calls find it set: no store to the shared line
		j.running.Store(true)
	}
}

// initJob makes j a job of f whose typed side is ops.
func initJob[A, R any](ctx context.Context, j *Job, f *spawn.Func[A, R], ops jobOps) {
	j.fn, j.codec, j.ops = f.Name(), f.Codec(), ops
	j.deadline, _ = ctx.Deadline()
}

// Deadline returns the deadline of the context the job was made under
// (Map's, Imap's, Apply's; Submit takes none), and whether there was one.
// A Pool needs none: when the context ends, the caller cancels the job
// (CancelJob). An executor that runs items elsewhere sends it along, so
// that no item starts after nobody waits for its result.
func (j *Job) Deadline() (time.Time, bool) { return j.deadline, !j.deadline.IsZero() }

// RunEncoded runs the function registered as name on arg (encoded as
// Job.AppendArg encodes it) in this process, and returns its encoded result
// (what Job.Deliver takes). Every error it returns is a *spawn.ChildError
// describing this process: the function's error or panic (with the stack),
// or a name this binary does not know (wrapping spawn.ErrNotRegistered).
// It is what a pool worker does for each item, for executors that run
// items elsewhere.
func RunEncoded(ctx context.Context, name string, arg []byte) (result []byte, err error) {
	e, ok := registry.Lookup(name)
	if !ok {
		return nil, localError(name, wire.BodyOf(fmt.Errorf("function %s is not registered in process %d: %w",
			name, os.Getpid(), spawn.ErrNotRegistered)))
	}
	defer func() {
		if v := recover(); v != nil {
			result, err = nil, localError(name, wire.PanicBody(v, debug.Stack()))
		}
	}()
	out, ferr := e.Run(ctx, arg)
	if ferr != nil {
		return nil, localError(name, wire.BodyOf(ferr))
	}
	return out, nil
}

// localError is body as a ChildError of this process.
func localError(fn string, body wire.ErrorBody) *spawn.ChildError {
	return childError(os.Getpid(), fn, spawn.CurrentProcess().Name, body)
}

// childError is the ChildError of body, the error or panic of fn in
// process pid named name.
func childError(pid int, fn, name string, body wire.ErrorBody) *spawn.ChildError {
	return &spawn.ChildError{
		Pid: pid, Func: fn, Name: name, Message: body.Message, Type: body.Type,
		Panicked: body.Panicked, Stack: body.Stack, Keys: body.Keys,
	}
}
