package sync

import (
	"errors"
	"io/fs"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/shm"
)

// Sentinel errors. Every error of this package wraps one of these, a
// context's error, or one of package shm (shm.ErrClosed when the region was
// closed, shm.ErrKind or shm.ErrHandle for a bad handle); test with
// errors.Is.
var (
	// ErrOwnerDead: a process died holding the lock, and nobody has
	// marked the data it guards consistent since. The lock is now held by
	// the caller, exactly as after a successful lock (a read lock, for
	// RWMutex.RLock); the data may be half-updated: repair it, then call
	// MarkConsistent before unlocking, or the lock becomes unrecoverable
	// (docs/robust.md). It is robust pthread mutexes' EOWNERDEAD. (It is
	// declared once, in internal/owner, for every robust lock of forkless.)
	ErrOwnerDead = owner.ErrOwnerDead
	// ErrNotRecoverable: a holder that was told ErrOwnerDead unlocked
	// without marking the guarded data consistent (MarkConsistent), so
	// the lock can never again be trusted: every later lock call fails
	// with it, without the lock. Robust pthread mutexes'
	// ENOTRECOVERABLE; see docs/robust.md. (Declared in internal/owner.)
	ErrNotRecoverable = owner.ErrNotRecoverable
	// ErrBroken: the barrier is broken (aborted, reset while this party
	// waited, timed out, its action failed, or a party died). Python's
	// BrokenBarrierError.
	ErrBroken = errors.New("barrier broken")
	// ErrReleased: a BoundedSemaphore was released more times than it was
	// acquired. Python's "semaphore or lock released too many times".
	ErrReleased = errors.New("semaphore released too many times")
	// ErrNotHeld: TryUnlock of a lock this process does not hold (it is
	// unlocked, or another process holds it, or its word was scribbled
	// over). Python's "release unlocked lock"; Unlock panics instead.
	ErrNotHeld = errors.New("lock not held by this process")
	// ErrInvalid: a count, bound, party number or offset is out of range.
	// It is also fs.ErrInvalid (errors.Is holds for both), and a Kind of
	// it rather than a text of its own: the cross-process registry keys
	// sentinels by type and text, and fs.ErrInvalid's text is the same.
	ErrInvalid = errs.Kind("invalid argument", fs.ErrInvalid)
)

// errClosed is returned (wrapped) when the region behind an object was
// closed in this process.
var errClosed = shm.ErrClosed

// Registered so that errors.Is sees them in an error a child returned.
func init() {
	errs.Register(ErrOwnerDead, ErrNotRecoverable, ErrBroken, ErrReleased, ErrNotHeld, ErrInvalid)
}
