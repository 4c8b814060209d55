package sync

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

// MutexSize and MutexAlign are the bytes a Mutex placed with MutexAt takes
// inside a block and the alignment its offset needs.
const (
	MutexSize  = 8
	MutexAlign = 8
)

// Mutex is a mutual-exclusion lock shared by processes: Python's
// multiprocessing.Lock. Its holder is a process: any goroutine of the
// holding process may unlock it, as with sync.Mutex.
//
// Memory layout (8 bytes, 8-aligned): one owner word, described in the
// package documentation.
//
// If the holder dies, the next Lock (or a waiter already blocked) takes the
// lock within about 70 ms and returns ErrOwnerDead.
type Mutex struct {
	_ noCopy
	o obj
	m owner
}

// NewMutex allocates an unlocked Mutex in r.
func NewMutex(r *shm.Region) (*Mutex, error) {
	o, err := allocObj(r, KindMutex, MutexSize, "mutex")
	if err != nil {
		return nil, err
	}
	return newMutex(o), nil
}

// OpenMutex binds a Mutex made by NewMutex, in this process or another, from
// its handle.
func OpenMutex(h shm.Handle) (*Mutex, error) {
	o, err := openObj(h, KindMutex, MutexSize, "mutex")
	if err != nil {
		return nil, err
	}
	return newMutex(o), nil
}

// MutexAt places a Mutex at offset off of a block that another package
// allocated, so that a shared object can carry its own lock. The MutexSize
// bytes at off must be zero before first use (a fresh block is) and must
// not be used for anything else; off must be a multiple of MutexAlign. Every
// process calls MutexAt with the same offset. Such a Mutex has no handle of
// its own: pass the block's.
func MutexAt(b shm.Block, off int64) (*Mutex, error) {
	o, err := atObj(b, off, MutexSize, MutexAlign, "mutex")
	if err != nil {
		return nil, err
	}
	return newMutex(o), nil
}

func newMutex(o obj) *Mutex { return &Mutex{o: o, m: newOwner(o.u64(0), o.spin)} }

// Handle names the Mutex for another process (the zero Handle for one placed
// with MutexAt).
func (m *Mutex) Handle() shm.Handle { return m.o.handle() }

// Lock locks m, waiting as long as it takes. It returns nil, or ErrOwnerDead
// when it took the lock from a holder that died: the caller holds the lock
// in both cases. It fails only when the region was closed.
func (m *Mutex) Lock() error {
	if m.o.live() && m.m.tryLock() {
		return nil // the fast path, small enough to inline
	}
	return m.lockSlow(context.Background())
}

// LockContext is Lock that gives up when ctx ends, returning ctx's error
// without the lock. Cancellation wakes the waiter within microseconds.
func (m *Mutex) LockContext(ctx context.Context) error {
	if m.o.live() && m.m.tryLock() {
		return nil
	}
	return m.lockSlow(ctx)
}

func (m *Mutex) lockSlow(ctx context.Context) error {
	if !m.o.live() {
		return closedErr("lock mutex")
	}
	if err := m.m.lockSlow(ctx); err != nil {
		return fmt.Errorf("lock mutex: %w", err)
	}
	return nil
}

// TryLock locks m if it is free and reports whether it did. It never waits,
// and never takes the lock from a dead holder (Lock does that).
func (m *Mutex) TryLock() bool {
	return m.o.live() && m.m.tryLock()
}

// Unlock unlocks m. Unlocking a Mutex that this process does not hold (it is
// unlocked, or another process holds it) is a bug and panics, as sync.Mutex
// does; the lock is left as it was. A release makes a system call only when
// some process waits.
func (m *Mutex) Unlock() {
	if m.o.live() && m.m.w.CompareAndSwap(selfWord, 0) {
		return // nobody waits: no system call
	}
	m.unlockSlow()
}

func (m *Mutex) unlockSlow() {
	m.o.mustLive("Mutex")
	if !m.m.unlock() {
		panic(fmt.Sprintf("forkless/sync: unlock of a Mutex not held by this process (held by pid %d)", ownerPid(m.m.w.Load())))
	}
}

// Locked reports whether some process holds m, like Python's Lock.locked().
func (m *Mutex) Locked() bool {
	return m.o.live() && m.m.w.Load() != 0
}

// Owner returns the pid of the process holding m, or 0.
func (m *Mutex) Owner() int {
	if !m.o.live() {
		return 0
	}
	return ownerPid(m.m.w.Load())
}
