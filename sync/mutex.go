package sync

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/shm"
)

// mutexWords is a Mutex in shared memory: one owner word.
type mutexWords struct {
	// owner names the holding process, or 0: internal/owner's Word, and
	// its low half is the futex word lockers sleep on. Written by CAS
	// only (0 -> locker; v -> v|waiters by a waiter; dead holder's word ->
	// locker|waiters by a recoverer; holder -> 0, or Swap 0 and a wake,
	// on release): the CAS that takes the lock acquires what the previous
	// holder's release published.
	owner atomic.Uint64
}

// MutexSize and MutexAlign are the bytes a Mutex placed with MutexAt takes
// inside a block and the alignment its offset needs.
const (
	MutexSize  = int64(unsafe.Sizeof(mutexWords{}))
	MutexAlign = int64(unsafe.Alignof(mutexWords{}))
)

// The layout is pinned to what it has always been: these fail to compile
// if a size, an alignment or an offset changes (every XWords type below
// is pinned the same way).
var (
	_ [0]struct{} = [MutexSize - 8]struct{}{}
	_ [0]struct{} = [MutexAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(mutexWords{}.owner) - 0]struct{}{}
)

func (w *mutexWords) validate() error { return validOwner("mutex owner", w.owner.Load()) }

// Mutex is a mutual-exclusion lock shared by processes: Python's
// multiprocessing.Lock. Its holder is a process: any goroutine of the
// holding process may unlock it, as with sync.Mutex.
//
// If the holder dies, the next Lock (or a waiter already blocked) takes the
// lock within about 70 ms and returns ErrOwnerDead: repair what it guards,
// then call MarkConsistent before Unlock. An Unlock without it makes the
// lock unrecoverable: every later Lock returns ErrNotRecoverable. If the
// taker dies too, the next Lock gets ErrOwnerDead again. This is pthread's
// robust mutex (docs/robust.md).
type Mutex struct {
	_ noCopy
	o obj
	m owner.RobustLock
	// held counts the locks taken through this handle and not yet
	// released (heldCount: written only by the holding goroutine). An
	// Unlock that the shared word refuses while held > 0 met a word
	// another process wrote after this one took the lock: hostile bytes,
	// not a bug of this process's, so it does not panic (see Unlock).
	held heldCount
}

// NewMutex allocates an unlocked Mutex in r.
func NewMutex(r *shm.Region) (*Mutex, error) {
	return newMutex(allocObj[mutexWords](r, KindMutex, "mutex"))
}

// OpenMutex binds a Mutex made by NewMutex, in this process or another, from
// its handle.
func OpenMutex(h shm.Handle) (*Mutex, error) {
	return newMutex(openObj[mutexWords](h, KindMutex, "mutex"))
}

// MutexAt places a Mutex at offset off of a block that another package
// allocated, so that a shared object can carry its own lock. The MutexSize
// bytes at off must be zero before first use (a fresh block is) and must
// not be used for anything else; off must be a multiple of MutexAlign. Every
// process calls MutexAt with the same offset. Such a Mutex has no handle of
// its own: pass the block's.
func MutexAt(b shm.Block, off int64) (*Mutex, error) {
	return newMutex(atObj[mutexWords](b, off, "mutex"))
}

func newMutex(o obj, _ *mutexWords, err error) (*Mutex, error) {
	if err != nil {
		return nil, err
	}
	return mutexOf(o, 0), nil
}

// mutexOf returns the Mutex whose owner word is at offset field of o's
// words (Cond's Mutex lives inside the Cond).
func mutexOf(o obj, field uintptr) *Mutex {
	return &Mutex{o: o, m: o.lock(field + unsafe.Offsetof(mutexWords{}.owner)).Robust()}
}

// Handle names the Mutex for another process (the zero Handle for one placed
// with MutexAt).
func (m *Mutex) Handle() shm.Handle { return m.o.handle() }

// Lock locks m, waiting as long as it takes. It returns nil, or ErrOwnerDead
// when it took the lock from a holder that died: the caller holds the lock
// in both cases. It fails, without the lock, with ErrNotRecoverable (see
// MarkConsistent) or when the region was closed.
func (m *Mutex) Lock() error {
	if m.o.live() && m.m.TryLock() {
		m.held.add(1)
		return nil // the fast path: one CAS, no call into the slow path
	}
	return m.lockSlow(context.Background())
}

// LockContext is Lock that gives up when ctx ends, returning ctx's error
// without the lock. Cancellation wakes the waiter within microseconds.
func (m *Mutex) LockContext(ctx context.Context) error {
	if m.o.live() && m.m.TryLock() {
		m.held.add(1)
		return nil
	}
	return m.lockSlow(ctx)
}

func (m *Mutex) lockSlow(ctx context.Context) error {
	if !m.o.live() {
		return closedErr("lock mutex")
	}
	err := m.m.LockContext(ctx)
	if err == nil || errors.Is(err, ErrOwnerDead) {
		m.held.add(1) // held in both cases
	}
	if err != nil {
		return fmt.Errorf("lock mutex: %w", err)
	}
	return nil
}

// MarkConsistent records that the data m guards is consistent again after
// Lock returned ErrOwnerDead (pthread_mutex_consistent), so that Unlock
// releases m normally. It does nothing if m is consistent. Calling it
// without holding m panics.
func (m *Mutex) MarkConsistent() {
	m.o.mustLive("Mutex")
	if !m.m.MarkConsistent() && m.held.get() <= 0 {
		panic("forkless/sync: MarkConsistent of a Mutex not held by this process")
	}
}

// TryMarkConsistent is MarkConsistent that returns an error instead of
// panicking when this process does not hold m: one wrapping ErrNotHeld
// (m unlocked, held by another process, or its word scribbled over by
// one), or shm.ErrClosed. As TryUnlock, for code that must not panic on
// shared bytes it did not write.
func (m *Mutex) TryMarkConsistent() error {
	if !m.o.live() {
		return closedErr("mark mutex consistent")
	}
	if m.m.MarkConsistent() {
		return nil
	}
	return fmt.Errorf("mark mutex consistent: held by pid %d: %w", m.m.Holder().Pid(), ErrNotHeld)
}

// TryLock locks m if it is free and reports whether it did. It never waits,
// and never takes the lock from a dead holder (Lock does that).
func (m *Mutex) TryLock() bool {
	if m.o.live() && m.m.TryLock() {
		m.held.add(1)
		return true
	}
	return false
}

// Unlock unlocks m; after an ErrOwnerDead not followed by MarkConsistent it
// leaves m unrecoverable. Unlocking a Mutex that this process does not hold
// (it is unlocked, or another process holds it) is a bug and panics, as
// sync.Mutex does; the lock is left as it was. But when this process took
// m through this handle and another process has since written its word
// (a stray write: the word no longer names this process), Unlock does not
// panic on bytes it did not write: it leaves the word as it is, and the
// next Lock recovers it (a holder that is not alive) or waits on it. A
// release makes a system call only when some process waits.
func (m *Mutex) Unlock() {
	if m.o.live() {
		m.held.add(-1) // before the release: the next holder may be another goroutine
		if m.m.Unlock() {
			return
		}
		m.held.add(1)
	}
	m.unlockFailed()
}

// TryUnlock is Unlock that returns an error instead of panicking when
// this process does not hold m: one wrapping ErrNotHeld (m unlocked, held
// by another process, or its word scribbled over by one), or
// shm.ErrClosed. For code that must not panic on shared bytes it did not
// write, such as a container whose lock word another process may have
// overwritten while this one held it.
func (m *Mutex) TryUnlock() error {
	if !m.o.live() {
		return closedErr("unlock mutex")
	}
	m.held.add(-1)
	if m.m.Unlock() {
		return nil
	}
	if m.held.get() < 0 {
		m.held.add(1) // not taken through this handle: nothing to forget
	}
	return fmt.Errorf("unlock mutex: held by pid %d: %w", m.m.Holder().Pid(), ErrNotHeld)
}

func (m *Mutex) unlockFailed() {
	m.o.mustLive("Mutex")
	if m.held.get() > 0 {
		m.held.add(-1) // taken through this handle, its word written since by another process
		return
	}
	panic(fmt.Sprintf("forkless/sync: unlock of a Mutex not held by this process (held by pid %d)", m.m.Holder().Pid()))
}

// Locked reports whether some process holds m, like Python's Lock.locked().
func (m *Mutex) Locked() bool {
	return m.o.live() && m.m.Holder() != 0
}

// Owner returns the pid of the process holding m, or 0.
func (m *Mutex) Owner() int {
	if !m.o.live() {
		return 0
	}
	return m.m.Holder().Pid()
}
