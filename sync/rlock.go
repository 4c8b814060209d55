package sync

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/shm"
)

// rlockWords is an RLock in shared memory.
type rlockWords struct {
	// mutex is the lock itself (see mutexWords).
	mutex mutexWords
	// depth is how many Locks the holder has not yet unlocked; 0 while
	// unlocked. Written only by the holding process, by CAS since its
	// goroutines may race; read by it. The owner word's CAS hands it from
	// one holder to the next (a new holder stores 1 after taking it).
	depth atomic.Uint32
	_     uint32 // reserved, zero
}

// RLockSize and RLockAlign are the bytes an RLock placed with RLockAt takes
// and the alignment its offset needs.
const (
	RLockSize  = int64(unsafe.Sizeof(rlockWords{}))
	RLockAlign = int64(unsafe.Alignof(rlockWords{}))
)

var (
	_ [0]struct{} = [RLockSize - 16]struct{}{}
	_ [0]struct{} = [RLockAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(rlockWords{}.depth) - 8]struct{}{}
)

func (w *rlockWords) validate() error { return w.mutex.validate() }

// RLock is a reentrant lock shared by processes: Python's
// multiprocessing.RLock.
//
// Its holder is the process. While a process holds it, a Lock from that
// process, from any of its goroutines, succeeds at once and deepens the
// hold; each Lock needs its Unlock, and the last Unlock releases it to other
// processes. Go has no goroutine identity to give a lock, so within one
// process an RLock does not exclude goroutines from each other: guard
// in-process state with a sync.Mutex as well if goroutines share it.
//
// If the holder dies, the next Lock takes the lock with depth 1 and returns
// ErrOwnerDead; the robust-lock rules of Mutex apply (MarkConsistent before
// the last Unlock, or the lock becomes unrecoverable).
type RLock struct {
	_     noCopy
	o     obj
	m     owner.RobustLock
	depth *atomic.Uint32
	rec   *owner.Record // this process's account of its hold (see reenter)
}

// NewRLock allocates an unlocked RLock in r.
func NewRLock(r *shm.Region) (*RLock, error) {
	return newRLock(allocObj[rlockWords](r, KindRLock, "rlock"))
}

// OpenRLock binds an RLock made by NewRLock from its handle.
func OpenRLock(h shm.Handle) (*RLock, error) {
	return newRLock(openObj[rlockWords](h, KindRLock, "rlock"))
}

// RLockAt places an RLock at offset off of another package's block; see
// MutexAt for the rules.
func RLockAt(b shm.Block, off int64) (*RLock, error) {
	return newRLock(atObj[rlockWords](b, off, "rlock"))
}

func newRLock(o obj, w *rlockWords, err error) (*RLock, error) {
	if err != nil {
		return nil, err
	}
	field := unsafe.Offsetof(rlockWords{}.mutex) + unsafe.Offsetof(mutexWords{}.owner)
	rec := owner.RecordFor(o.recordKey(field))
	m := o.lock(field).Robust()
	return &RLock{o: o, m: m, depth: &w.depth, rec: rec}, nil
}

// Handle names the RLock for another process.
func (l *RLock) Handle() shm.Handle { return l.o.handle() }

// Lock takes the lock, or deepens this process's hold on it. It returns nil
// or ErrOwnerDead (the lock is held in both cases), or ErrNotRecoverable
// (without it).
func (l *RLock) Lock() error { return l.LockContext(context.Background()) }

// LockContext is Lock that gives up when ctx ends.
func (l *RLock) LockContext(ctx context.Context) error {
	if !l.o.live() {
		return closedErr("lock rlock")
	}
	if ok, err := l.reenter(); ok || err != nil {
		return err
	}
	l.rec.Enter()
	err := l.m.LockRecorded(ctx, l.rec)
	if err != nil && err != ErrOwnerDead {
		l.rec.Leave()
		return fmt.Errorf("lock rlock: %w", err)
	}
	// This process now holds the word; nobody else writes depth.
	l.depth.Store(1)
	if err != nil {
		return fmt.Errorf("lock rlock: %w", err)
	}
	return nil
}

// reenter deepens the hold if this process holds the lock. The depth goes
// up by CAS from a non-zero value only: a depth of 0 with this process
// named as holder means that a goroutine of this process is releasing it
// (or has just taken it), and this call must take the slow path. A word
// naming this process while its Record counts no goroutine here is
// another process's writing, not a hold to deepen: ErrCorrupt.
func (l *RLock) reenter() (bool, error) {
	if !l.m.HeldByMe() {
		return false, nil
	}
	if !l.rec.Holds() {
		return false, fmt.Errorf("lock rlock: owner word names this process, which does not hold it: %w", shm.ErrCorrupt)
	}
	for {
		d := l.depth.Load()
		if d == 0 {
			return false, nil
		}
		if d == math.MaxUint32 {
			panic("forkless/sync: RLock re-entered 2^32 times")
		}
		if l.depth.CompareAndSwap(d, d+1) {
			return true, nil
		}
	}
}

// MarkConsistent records that the data the lock guards is consistent again
// after Lock returned ErrOwnerDead, as Mutex.MarkConsistent. Calling it
// without holding the lock panics.
func (l *RLock) MarkConsistent() {
	l.o.mustLive("RLock")
	if !l.m.MarkConsistent() {
		panic("forkless/sync: MarkConsistent of an RLock not held by this process")
	}
}

// TryLock takes or deepens the lock if it can without waiting.
func (l *RLock) TryLock() bool {
	if !l.o.live() {
		return false
	}
	if ok, err := l.reenter(); ok || err != nil {
		return ok
	}
	l.rec.Enter()
	if l.m.TryLock() {
		l.depth.Store(1)
		return true
	}
	l.rec.Leave()
	return false
}

// Unlock undoes one Lock; the last one releases the lock. Unlocking an
// RLock this process does not hold panics.
func (l *RLock) Unlock() {
	l.o.mustLive("RLock")
	if err := l.TryUnlock(); err != nil {
		panic("forkless/sync: " + err.Error())
	}
}

// TryUnlock is Unlock that returns an error wrapping ErrNotHeld (or
// shm.ErrClosed) instead of panicking when this process does not hold l.
func (l *RLock) TryUnlock() error {
	if !l.o.live() {
		return closedErr("unlock rlock")
	}
	for {
		if !l.m.HeldByMe() || !l.rec.Holds() {
			return fmt.Errorf("unlock of an RLock not held by this process (held by pid %d): %w", l.m.Holder().Pid(), ErrNotHeld)
		}
		d := l.depth.Load()
		if d == 0 {
			return fmt.Errorf("unlock of an RLock not held by this process (depth 0): %w", ErrNotHeld)
		}
		if l.depth.CompareAndSwap(d, d-1) {
			if d == 1 {
				ok := l.m.Unlock()
				l.rec.Leave()
				if !ok {
					return fmt.Errorf("unlock of an RLock whose word changed while held: %w", ErrNotHeld)
				}
			}
			return nil
		}
	}
}

// Depth returns how deep this process holds the lock (0 if it does not).
func (l *RLock) Depth() int {
	if !l.o.live() || !l.m.HeldByMe() || !l.rec.Holds() {
		return 0
	}
	return int(l.depth.Load())
}
