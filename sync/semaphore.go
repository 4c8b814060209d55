package sync

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
)

// SemaphoreSize and SemaphoreAlign are the bytes a Semaphore or
// BoundedSemaphore placed with SemaphoreAt takes and the alignment its
// offset needs.
const (
	SemaphoreSize  = 16
	SemaphoreAlign = 8
)

// MaxSemaphore is the largest value a semaphore can hold.
const MaxSemaphore = math.MaxInt32

// Semaphore is a counting semaphore shared by processes: Python's
// multiprocessing.Semaphore. Acquire takes one unit, waiting while there is
// none; Release returns one.
//
// Memory layout (16 bytes, 8-aligned):
//
//	offset size field
//	     0    4 value: units available, 0..MaxSemaphore. Acquire takes one
//	             with CAS v -> v-1; Release adds one with CAS v -> v+1. Also
//	             the futex word that acquirers sleep on (expecting 0).
//	     4    4 waiters: acquirers that have announced they may sleep
//	             (+1 before the last check of value, -1 when they leave).
//	             Release reads it and wakes one sleeper only when it is
//	             non-zero, so an uncontended Release makes no system call.
//	     8    4 bound: 0 for a Semaphore; the initial value for a
//	             BoundedSemaphore. Written once at creation.
//	    12    4 placed: 1 once SemaphoreAt set the semaphore up (New
//	             leaves it 0: it sets the words before publishing the handle)
//
// A semaphore has no owner: a process that dies holding units takes them
// with it (as in Python), and a process that dies while waiting only costs
// later releases a wake-up that finds nobody.
type Semaphore struct {
	_       noCopy
	o       obj
	value   *atomic.Uint32
	waiters *atomic.Uint32
	bound   *atomic.Uint32
	placed  *atomic.Uint32
}

// BoundedSemaphore is a Semaphore whose Release fails with ErrReleased
// rather than raise the value above its initial value: Python's
// multiprocessing.BoundedSemaphore. It has every method of Semaphore.
type BoundedSemaphore struct {
	Semaphore
}

// NewSemaphore allocates a Semaphore holding value units in r.
func NewSemaphore(r *shm.Region, value int) (*Semaphore, error) {
	if value < 0 || value > MaxSemaphore {
		return nil, fmt.Errorf("new semaphore of value %d: %w", value, ErrInvalid)
	}
	o, err := allocObj(r, KindSemaphore, SemaphoreSize, "semaphore")
	if err != nil {
		return nil, err
	}
	s := newSemaphore(o)
	s.value.Store(uint32(value))
	return s, nil
}

// NewBoundedSemaphore allocates a BoundedSemaphore holding, and bounded by,
// value units (value >= 1).
func NewBoundedSemaphore(r *shm.Region, value int) (*BoundedSemaphore, error) {
	if value < 1 || value > MaxSemaphore {
		return nil, fmt.Errorf("new bounded semaphore of value %d: %w", value, ErrInvalid)
	}
	o, err := allocObj(r, KindBoundedSemaphore, SemaphoreSize, "bounded semaphore")
	if err != nil {
		return nil, err
	}
	s := new(BoundedSemaphore)
	s.init(o)
	s.bound.Store(uint32(value))
	s.value.Store(uint32(value))
	return s, nil
}

// OpenSemaphore binds a Semaphore made by NewSemaphore from its handle.
func OpenSemaphore(h shm.Handle) (*Semaphore, error) {
	o, err := openObj(h, KindSemaphore, SemaphoreSize, "semaphore")
	if err != nil {
		return nil, err
	}
	return newSemaphore(o), nil
}

// OpenBoundedSemaphore binds a BoundedSemaphore from its handle.
func OpenBoundedSemaphore(h shm.Handle) (*BoundedSemaphore, error) {
	o, err := openObj(h, KindBoundedSemaphore, SemaphoreSize, "bounded semaphore")
	if err != nil {
		return nil, err
	}
	s := new(BoundedSemaphore)
	s.init(o)
	return s, nil
}

// SemaphoreAt places a Semaphore at offset off of another package's block:
// holding value units, and bounded by value when bounded is true (then
// Release past value fails with ErrReleased). The SemaphoreSize bytes must be
// zero before first use; the first caller to place the semaphore there sets
// it up, later callers (in any process) find it set up and must pass the
// same arguments. See MutexAt for the other rules.
func SemaphoreAt(b shm.Block, off int64, value int, bounded bool) (*Semaphore, error) {
	if value < 0 || value > MaxSemaphore || (bounded && value == 0) {
		return nil, fmt.Errorf("semaphore at %d of value %d: %w", off, value, ErrInvalid)
	}
	o, err := atObj(b, off, SemaphoreSize, SemaphoreAlign, "semaphore")
	if err != nil {
		return nil, err
	}
	s := newSemaphore(o)
	want := uint32(0)
	if bounded {
		want = uint32(value)
	}
	// The init word goes from 0 to 1 exactly once; its winner sets the
	// bound and adds the units, then wakes any acquirer that came first.
	if s.placed.CompareAndSwap(0, 1) {
		s.bound.Store(want)
		s.value.Add(uint32(value))
		if s.waiters.Load() > 0 {
			futex.Wake(s.value, -1)
		}
	} else if got := s.bound.Load(); got != want {
		return nil, fmt.Errorf("semaphore at %d: placed with bound %d, not %d: %w", off, got, want, ErrInvalid)
	}
	return s, nil
}

func newSemaphore(o obj) *Semaphore {
	s := new(Semaphore)
	s.init(o)
	return s
}

func (s *Semaphore) init(o obj) {
	s.o, s.value, s.waiters, s.bound, s.placed = o, o.u32(0), o.u32(4), o.u32(8), o.u32(12)
}

// Handle names the semaphore for another process.
func (s *Semaphore) Handle() shm.Handle { return s.o.handle() }

// Value returns the units available now (Python's get_value).
func (s *Semaphore) Value() int {
	if !s.o.live() {
		return 0
	}
	return int(s.value.Load())
}

// TryAcquire takes a unit if one is available, without waiting.
func (s *Semaphore) TryAcquire() bool {
	if !s.o.live() {
		return false
	}
	for {
		v := s.value.Load()
		if v == 0 {
			return false
		}
		if s.value.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// Acquire takes a unit, waiting until one is released.
func (s *Semaphore) Acquire() error { return s.AcquireContext(context.Background()) }

// AcquireContext is Acquire that gives up when ctx ends.
//
// Lost wake-up argument: an acquirer adds 1 to waiters (A), then reads value
// (B) and sleeps on it expecting 0 (C). A release adds 1 to value (D), then
// reads waiters (E). Go's atomics are sequentially consistent, so either D
// precedes B (the acquirer sees the unit) or B precedes D, and then A
// precedes E: the release sees the waiter and wakes one, and a sleep at C
// that starts after D finds value non-zero and returns at once.
func (s *Semaphore) AcquireContext(ctx context.Context) error {
	if !s.o.live() {
		return closedErr("acquire semaphore")
	}
	if s.TryAcquire() {
		return nil
	}
	bo := newBackoff(ctx, s.o.spin)
	announced := false
	defer func() {
		if announced {
			s.waiters.Add(^uint32(0))
		}
	}()
	for {
		v := s.value.Load()
		if v > 0 {
			if s.value.CompareAndSwap(v, v-1) {
				bo.won()
				return nil
			}
			continue
		}
		if bo.spin() {
			continue
		}
		if !announced {
			s.waiters.Add(1)
			announced = true
			continue // re-check value after announcing
		}
		if err := bo.sleep(s.value, 0); err != nil && err != errNap {
			// A release may have woken this waiter rather than another:
			// pass the wake-up on if a unit is there.
			s.waiters.Add(^uint32(0))
			announced = false
			if s.value.Load() > 0 && s.waiters.Load() > 0 {
				futex.Wake(s.value, 1)
			}
			return fmt.Errorf("acquire semaphore: %w", err)
		}
	}
}

// Release returns a unit, waking one waiter if any. On a BoundedSemaphore,
// a release that would raise the value above the bound fails with
// ErrReleased and changes nothing.
func (s *Semaphore) Release() error {
	if !s.o.live() {
		return closedErr("release semaphore")
	}
	bound := s.bound.Load()
	for {
		v := s.value.Load()
		if bound != 0 && v >= bound {
			return fmt.Errorf("release semaphore: value %d at its bound: %w", v, ErrReleased)
		}
		if v >= MaxSemaphore {
			return fmt.Errorf("release semaphore: value %d at its maximum: %w", v, ErrInvalid)
		}
		if s.value.CompareAndSwap(v, v+1) {
			break
		}
	}
	if s.waiters.Load() > 0 {
		futex.Wake(s.value, 1)
	}
	return nil
}
