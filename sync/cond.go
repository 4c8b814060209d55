package sync

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
)

// condWords is a Cond in shared memory.
type condWords struct {
	// mutex is the Cond's Mutex, L (see mutexWords).
	mutex mutexWords
	// seq is +1 by every Signal, Notify and Broadcast that finds waiters,
	// and the futex word waiters sleep on, expecting the value they read
	// before unlocking the Mutex.
	seq atomic.Uint32
	// waiters counts goroutines, of all processes, inside Wait (+1 before
	// the Mutex is released, -1 after waking). Signal reads it and does
	// nothing, no system call, when it is 0.
	waiters atomic.Uint32
}

// CondSize and CondAlign are the bytes a Cond placed with CondAt takes and
// the alignment its offset needs.
const (
	CondSize  = int64(unsafe.Sizeof(condWords{}))
	CondAlign = int64(unsafe.Alignof(condWords{}))
)

var (
	_ [0]struct{} = [CondSize - 16]struct{}{}
	_ [0]struct{} = [CondAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condWords{}.seq) - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condWords{}.waiters) - 12]struct{}{}
)

func (w *condWords) validate() error { return w.mutex.validate() }

// Cond is a condition variable shared by processes, with its own Mutex:
// Python's multiprocessing.Condition. Lock the Mutex (L), check the
// condition, and Wait while it does not hold; whoever changes it calls
// Signal, Notify or Broadcast.
//
// Wait may return without a matching Signal (a Signal can release more
// than one waiter that had not yet gone to sleep): always wait in a loop
// on the condition, or use WaitFor. A process dying inside Wait leaves the
// waiters count one too high, which only costs later signals a wake-up that
// finds nobody; a process dying holding the Mutex is handled as for Mutex.
type Cond struct {
	_ noCopy
	o obj
	// L is the Cond's Mutex. Hold it around Wait and around changes to the
	// condition.
	L       *Mutex
	seq     *atomic.Uint32
	waiters *atomic.Uint32
}

// NewCond allocates a Cond, with its unlocked Mutex, in r.
func NewCond(r *shm.Region) (*Cond, error) {
	return newCond(allocObj[condWords](r, KindCond, "cond"))
}

// OpenCond binds a Cond made by NewCond from its handle.
func OpenCond(h shm.Handle) (*Cond, error) {
	return newCond(openObj[condWords](h, KindCond, "cond"))
}

// CondAt places a Cond at offset off of another package's block; see
// MutexAt for the rules.
func CondAt(b shm.Block, off int64) (*Cond, error) {
	return newCond(atObj[condWords](b, off, "cond"))
}

func newCond(o obj, w *condWords, err error) (*Cond, error) {
	if err != nil {
		return nil, err
	}
	l := mutexOf(o, unsafe.Offsetof(condWords{}.mutex))
	return &Cond{o: o, L: l, seq: &w.seq, waiters: &w.waiters}, nil
}

// Handle names the Cond for another process.
func (c *Cond) Handle() shm.Handle { return c.o.handle() }

// Wait unlocks c.L, waits for a Signal, Notify or Broadcast, and locks c.L
// again before returning. The caller must hold c.L (Wait panics if this
// process does not). It returns nil, or ErrOwnerDead when relocking took
// the Mutex from a dead holder (c.L is held in both cases).
func (c *Cond) Wait() error { return c.WaitContext(context.Background()) }

// WaitContext is Wait that stops waiting when ctx ends; it still relocks
// c.L before it returns ctx's error, as Python's wait(timeout) does.
//
// Lost wake-up argument: the waiter reads the sequence (A) and adds itself
// to waiters (B) while it holds the Mutex, then unlocks it and sleeps
// expecting the value read at A. A notifier that changed the condition
// under the Mutex runs after the unlock, so it sees waiters > 0, bumps the
// sequence and wakes; a sleep that begins after the bump finds the
// sequence changed and returns at once.
func (c *Cond) WaitContext(ctx context.Context) error {
	if !c.o.live() {
		return closedErr("wait on cond")
	}
	if !c.L.m.HeldByMe() {
		panic("forkless/sync: Cond.Wait without holding its Mutex")
	}
	s := c.seq.Load()
	c.waiters.Add(1)
	c.L.Unlock()
	var werr error
	bo := newBackoff(ctx, c.o.spin)
	for c.seq.Load() == s {
		if bo.spin() {
			continue
		}
		if err := bo.sleep(c.seq, s); err != nil && err != errNap {
			werr = err
			break
		}
	}
	if werr == nil {
		bo.won()
	}
	c.waiters.Add(^uint32(0))
	if werr != nil && c.seq.Load() != s {
		// A Signal came while this waiter was leaving on its context, and
		// its wake-up may have been this waiter's: pass it on.
		c.Notify(1)
	}
	lerr := c.L.m.Lock()
	switch {
	case lerr == ErrOwnerDead:
		return fmt.Errorf("wait on cond: relock: %w", ErrOwnerDead)
	case werr != nil:
		return fmt.Errorf("wait on cond: %w", werr)
	}
	return nil
}

// WaitFor waits until cond() returns true, as Python's wait_for: cond is
// called with c.L held, first before any waiting. It returns ctx's error if
// ctx ends first (c.L is held then too).
func (c *Cond) WaitFor(ctx context.Context, cond func() bool) error {
	var dead error
	for !cond() {
		if err := c.WaitContext(ctx); err != nil {
			if errors.Is(err, ErrOwnerDead) {
				dead = err
				continue
			}
			return err
		}
	}
	return dead
}

// Signal wakes one waiter, if there is one. It makes no system call when
// nobody waits.
func (c *Cond) Signal() { c.Notify(1) }

// Broadcast wakes every waiter.
func (c *Cond) Broadcast() { c.Notify(-1) }

// Notify wakes up to n waiters (all of them if n < 0), as Python's
// notify(n).
func (c *Cond) Notify(n int) {
	c.o.mustLive("Cond")
	if n == 0 || c.waiters.Load() == 0 {
		return
	}
	c.seq.Add(1)
	futex.Wake(c.seq, n)
}

// Waiting returns how many goroutines, in all processes, are inside Wait.
func (c *Cond) Waiting() int {
	if !c.o.live() {
		return 0
	}
	return int(c.waiters.Load())
}
