package pool

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/spawn"
)

// Sentinel errors of the pool; test with errors.Is.
var (
	// ErrPoolClosed: the pool was closed (Close) before the task was
	// submitted. It is also an errs "closed" (shm.ErrClosed).
	ErrPoolClosed = errs.Kind("pool closed", errs.ErrClosed)
	// ErrTerminated: the pool was terminated before the task finished.
	ErrTerminated = errors.New("pool terminated")
	// ErrTimeout: the task ran over the pool's TaskTimeout; its worker was
	// killed and replaced.
	ErrTimeout = errors.New("task over its time limit")
	// ErrTooLarge: an argument or result does not fit the worker's arena
	// (the pool's ArenaSize). It is also an errs "too large"
	// (shm.ErrTooLarge).
	ErrTooLarge = errs.Kind("too large for the worker arena", errs.ErrTooLarge)
	// ErrInitializer: the pool's initializer failed in a worker; the pool
	// is broken.
	ErrInitializer = errors.New("pool initializer failed")
	// ErrWorkers: New was given a number of workers outside 1..4096
	// (Workers(0) too, as Python's Pool(0) is a ValueError; without
	// Workers the pool has spawn.CPUCount() workers).
	ErrWorkers = errors.New("invalid number of pool workers")
)

func init() {
	errs.Register(ErrPoolClosed, ErrTerminated, ErrTimeout, ErrTooLarge, ErrInitializer, ErrWorkers)
}

// WorkerError reports an item whose worker died while running it. It wraps
// spawn.ErrDied, and ErrTimeout too when the pool killed the worker for
// running over its time limit.
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
	return fmt.Sprintf("pool worker %d %s while running %s%s: %v", e.Pid, how, e.Func, tries, spawn.ErrDied)
}

// Unwrap returns spawn.ErrDied, and ErrTimeout for a time limit.
func (e *WorkerError) Unwrap() []error {
	if e.TimedOut {
		return []error{spawn.ErrDied, ErrTimeout}
	}
	return []error{spawn.ErrDied}
}

// ItemError is the failure of one item of a Map.
type ItemError struct {
	Index int // the item's index in the input
	Err   error
}

func (e ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }
func (e ItemError) Unwrap() error { return e.Err }

// MapError reports the items of a Map that failed; the others have their
// results. errors.Is and errors.As look into every item's error.
type MapError struct {
	Func   string
	Total  int
	Failed []ItemError // in input order
}

func (e *MapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "map %s: %d of %d items failed", e.Func, len(e.Failed), e.Total)
	if len(e.Failed) > 0 {
		fmt.Fprintf(&b, "; first: %v", e.Failed[0])
	}
	return b.String()
}

// Unwrap returns every item's error.
func (e *MapError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i := range e.Failed {
		out[i] = e.Failed[i]
	}
	return out
}
