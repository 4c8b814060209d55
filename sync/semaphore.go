package sync

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
)

// semaphoreWords is a Semaphore or BoundedSemaphore in shared memory.
type semaphoreWords struct {
	_ [0]atomic.Uint64 // 8-aligned, as it always was
	// value is the units available, 0..MaxSemaphore, and the futex word
	// acquirers sleep on (expecting 0). Acquire takes one with CAS
	// v -> v-1, Release adds one with CAS v -> v+1: the acquirer's CAS
	// acquires what the releaser did before its Release.
	value atomic.Uint32
	// waiters counts acquirers that have announced they may sleep (+1
	// before the last check of value, -1 when they leave). Release reads
	// it and wakes one sleeper only when it is non-zero, so an
	// uncontended Release makes no system call.
	waiters atomic.Uint32
	// bound is 0 for a Semaphore, the initial value for a
	// BoundedSemaphore. Written once: by NewX before the handle is
	// published, or by SemaphoreAt's placer under placed.
	bound atomic.Uint32
	// placed is 1 once SemaphoreAt set the semaphore up (its CAS 0 -> 1
	// elects the one placer); NewX leaves it 0.
	placed atomic.Uint32
}

// SemaphoreSize and SemaphoreAlign are the bytes a Semaphore or
// BoundedSemaphore placed with SemaphoreAt takes and the alignment its
// offset needs.
const (
	SemaphoreSize  = int64(unsafe.Sizeof(semaphoreWords{}))
	SemaphoreAlign = int64(unsafe.Alignof(semaphoreWords{}))
)

var (
	_ [0]struct{} = [SemaphoreSize - 16]struct{}{}
	_ [0]struct{} = [SemaphoreAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(semaphoreWords{}.value) - 0]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(semaphoreWords{}.waiters) - 4]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(semaphoreWords{}.bound) - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(semaphoreWords{}.placed) - 12]struct{}{}
)

// MaxSemaphore is the largest value a semaphore can hold.
const MaxSemaphore = math.MaxInt32

func (w *semaphoreWords) validate() error {
	v, b, p := w.value.Load(), w.bound.Load(), w.placed.Load()
	if v > MaxSemaphore || b > MaxSemaphore || p > 1 {
		return fmt.Errorf("semaphore value %d, bound %d, placed %d: %w", v, b, p, shm.ErrCorrupt)
	}
	return nil
}

// Semaphore is a counting semaphore shared by processes: Python's
// multiprocessing.Semaphore. Acquire takes one unit, waiting while there is
// none; Release returns one.
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
	s, err := newSemaphore(allocObj[semaphoreWords](r, KindSemaphore, "semaphore"))
	if err != nil {
		return nil, err
	}
	s.value.Store(uint32(value))
	return s, nil
}

// NewBoundedSemaphore allocates a BoundedSemaphore holding, and bounded by,
// value units (value >= 1).
func NewBoundedSemaphore(r *shm.Region, value int) (*BoundedSemaphore, error) {
	if value < 1 || value > MaxSemaphore {
		return nil, fmt.Errorf("new bounded semaphore of value %d: %w", value, ErrInvalid)
	}
	s, err := newBounded(allocObj[semaphoreWords](r, KindBoundedSemaphore, "bounded semaphore"))
	if err != nil {
		return nil, err
	}
	s.bound.Store(uint32(value))
	s.value.Store(uint32(value))
	return s, nil
}

// OpenSemaphore binds a Semaphore made by NewSemaphore from its handle.
func OpenSemaphore(h shm.Handle) (*Semaphore, error) {
	return newSemaphore(openObj[semaphoreWords](h, KindSemaphore, "semaphore"))
}

// OpenBoundedSemaphore binds a BoundedSemaphore from its handle.
func OpenBoundedSemaphore(h shm.Handle) (*BoundedSemaphore, error) {
	return newBounded(openObj[semaphoreWords](h, KindBoundedSemaphore, "bounded semaphore"))
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
	s, err := newSemaphore(atObj[semaphoreWords](b, off, "semaphore"))
	if err != nil {
		return nil, err
	}
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

func newSemaphore(o obj, w *semaphoreWords, err error) (*Semaphore, error) {
	if err != nil {
		return nil, err
	}
	s := new(Semaphore)
	s.init(o, w)
	return s, nil
}

func newBounded(o obj, w *semaphoreWords, err error) (*BoundedSemaphore, error) {
	if err != nil {
		return nil, err
	}
	s := new(BoundedSemaphore)
	s.init(o, w)
	return s, nil
}

func (s *Semaphore) init(o obj, w *semaphoreWords) {
	s.o, s.value, s.waiters, s.bound, s.placed = o, &w.value, &w.waiters, &w.bound, &w.placed
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
	bo := newWaitBackoff(ctx, s.o.spin)
	bo.long() // no peer can die on this wait: the naps are a safety net
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
		wake(s.value, 1)
	}
	return nil
}
