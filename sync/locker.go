package sync

import (
	"context"
	"errors"
	"fmt"
	stdsync "sync"
)

// A Locker adapter makes a lock of this package a sync.Locker, for code
// that takes one (the standard library's sync.Cond, a cache's lock
// option, ...). sync.Locker's Lock cannot return an error, so the adapter
// decides what this package's errors mean:
//
//   - It blocks as long as it takes (no context): a holder that died is
//     found within about 70 ms and does not block it for ever.
//   - ErrOwnerDead: it runs repair (the function given to the adapter,
//     nil when the guarded data needs none, a counter say, where a torn
//     update is a lost one) holding the lock, then marks the lock
//     consistent and returns as a normal Lock. So a Locker never leaves a
//     lock owner-dead, and never makes it unrecoverable.
//   - Anything else (ErrNotRecoverable, made by code using the error
//     API; the region closed; a scribbled lock word): it panics with a
//     message that starts "forkless/sync: Locker:" and wraps the error
//     (recover it and use errors.Is). Such a lock can never be taken
//     again, and a Locker has no other way to say so.
//
// Unlock is the lock's Unlock, and panics as it does when this process
// does not hold the lock.
type locker struct {
	lock   func(context.Context) error
	mark   func()
	unlock func()
	repair func()
}

func (l *locker) Lock() {
	err := l.lock(context.Background())
	if err == nil {
		return
	}
	if !errors.Is(err, ErrOwnerDead) {
		panic(lockerPanic{err})
	}
	if l.repair != nil {
		l.repair()
	}
	l.mark()
}

func (l *locker) Unlock() { l.unlock() }

// lockerPanic is the value a Locker panics with: an error whose text
// starts with "forkless/sync: Locker:" and that wraps the lock's error.
type lockerPanic struct{ err error }

func (p lockerPanic) Error() string { return "forkless/sync: Locker: " + p.err.Error() }
func (p lockerPanic) Unwrap() error { return p.err }

// Locker returns m as a sync.Locker (see the package's "Locker adapter"
// notes at the locker type, and the Mutex example): Lock blocks, runs
// repair (may be nil) and marks m consistent after a holder's death, and
// panics on an error it cannot return.
func (m *Mutex) Locker(repair func()) stdsync.Locker {
	return &locker{lock: m.LockContext, mark: m.MarkConsistent, unlock: m.Unlock, repair: repair}
}

// Locker returns l as a sync.Locker, as Mutex.Locker does. Its Lock
// deepens this process's hold like RLock.Lock.
func (l *RLock) Locker(repair func()) stdsync.Locker {
	return &locker{lock: l.LockContext, mark: l.MarkConsistent, unlock: l.Unlock, repair: repair}
}

// Locker returns rw's write lock as a sync.Locker, as Mutex.Locker does.
func (rw *RWMutex) Locker(repair func()) stdsync.Locker {
	return &locker{lock: rw.LockContext, mark: rw.MarkConsistent, unlock: rw.Unlock, repair: repair}
}

// RLocker returns rw's read lock as a sync.Locker (as sync.RWMutex's
// RLocker). A reader cannot repair, so when RLock reports ErrOwnerDead it
// gives its read lock back, takes the write lock, repairs and marks
// consistent (if no other writer did so first), and reads again.
func (rw *RWMutex) RLocker(repair func()) stdsync.Locker {
	return &locker{lock: rw.rlockRepairing(repair), mark: func() {}, unlock: rw.RUnlock}
}

// rlockRepairing is RLockContext that repairs an owner-dead lock through
// the write lock. The loop ends: each turn either reads consistent data,
// or repairs (the lock is consistent afterwards), or fails.
func (rw *RWMutex) rlockRepairing(repair func()) func(context.Context) error {
	w := &locker{lock: rw.LockContext, mark: rw.MarkConsistent, unlock: rw.Unlock, repair: repair}
	return func(ctx context.Context) error {
		for range 3 {
			err := rw.RLockContext(ctx)
			if !errors.Is(err, ErrOwnerDead) {
				return err
			}
			rw.RUnlock()
			w.Lock() // repairs and marks, or panics
			w.Unlock()
		}
		// Not wrapping ErrOwnerDead: the read lock is not held, and the
		// Locker must panic rather than return as if it were.
		return fmt.Errorf("rlock rwmutex: writers kept dying inside: still owner-dead after three repairs")
	}
}
