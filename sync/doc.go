// Package sync gives processes that share memory the locks and signals of
// Python's multiprocessing: [Mutex], [RLock], [RWMutex], [Semaphore],
// [BoundedSemaphore], [Cond], [Event], [Barrier], a [WaitGroup], and
// [Value] and [Array] with their lock (Python's Value and Array; package
// shm's are RawValue and RawArray). Its name shadows the standard
// library's, so import it under another name:
//
//	import fsync "github.com/forkless-go/forkless/sync"
//
// Every primitive lives in a shared-memory region (package shm): make one
// with NewX(region) ([NewMutex]), pass its Handle to a child (spawn shares
// the region), and bind it there with OpenX(handle) ([OpenMutex]). A shared
// object of another package can carry a primitive inside its own block with
// XAt(block, offset) ([MutexAt]), in XSize bytes aligned to XAlign
// ([MutexSize], [MutexAlign]). OpenX refuses a handle of another kind
// ([KindMutex] ...) and words no process of this package could have
// written ([shm.ErrCorrupt]).
//
// With nobody waiting, lock and unlock (acquire and release, set, done) are
// one atomic instruction each and no system call. A blocking call spins
// briefly, then sleeps on a futex; every one has a form taking a
// context.Context (LockContext, WaitContext ...) whose cancellation wakes
// the sleeper at once and returns the context's error. A sleeper watches
// the processes it waits on (a pidfd each), so blocking on a live, silent
// peer costs next to no CPU. Locker methods ([Mutex.Locker]) adapt a lock
// to sync.Locker.
//
// # Owners and dead processes
//
// The holder of a lock is a process, not a goroutine: any goroutine of the
// holding process may unlock it, and all of them share an [RLock]'s hold.
// When the holder dies, a waiter takes the lock (at once if it sleeps
// watching the holder, within about 70 ms if it cannot) and gets
// [ErrOwnerDead], holding the lock; the guarded data may be half-updated.
// As with pthread's robust mutex, every locker is told so until one repairs
// it and calls MarkConsistent ([Mutex.MarkConsistent]) before Unlock; an
// Unlock without it leaves the lock unrecoverable: every later lock fails
// with [ErrNotRecoverable] (docs/robust.md). Python deadlocks here.
//
//   - [Mutex], [RLock]: the next locker gets ErrOwnerDead (an RLock starts
//     again at depth 1). A process dying while waiting costs one spare wake.
//   - [RWMutex]: after a writer's death, readers get ErrOwnerDead too (they
//     cannot repair) until a writer marks it consistent; a waiting writer
//     takes back the read locks of dead readers (of up to 16 processes,
//     killed at any instruction).
//   - [Semaphore], [BoundedSemaphore]: units a dead process held are lost,
//     as in Python.
//   - [Cond]: its Mutex as above, relocked by Wait; a notify's wake chosen
//     for a waiter that died passes to a live one within about 70 ms.
//   - [Event]: no owner, nothing to repair. [WaitGroup]: a process that
//     dies before its Done leaves the count up.
//   - [Barrier]: a party that dies, or dies inside the barrier, breaks it:
//     everyone gets [ErrBroken] instead of hanging.
//
// # Errors
//
// Errors wrap [ErrOwnerDead], [ErrNotRecoverable], [ErrBroken],
// [ErrReleased], [ErrNotHeld], [ErrInvalid], a context's error, or shm's
// ([shm.ErrClosed] once the region was closed); test with errors.Is, which
// holds across the process boundary too.
//
// # Caveats
//
//   - Misuse panics with a "forkless/sync:" prefix, as the standard library
//     does: unlocking a lock this process does not hold (TryUnlock and
//     TryMarkConsistent return ErrNotHeld instead), a negative WaitGroup
//     count, calling a method without an error result after Close.
//   - Closing a region while a goroutine of the process is inside a method
//     of a primitive in it is a bug, as with any shm object.
//   - Death is detected through /proc: where it cannot tell, a holder is
//     presumed alive and its lock never taken. Processes sharing a
//     primitive must share a pid namespace.
//   - [Mutex.TryLock] never takes a dead holder's lock; Lock does.
//   - [Cond.Notify](n) returns at most n waiters, the longest waiting
//     first; Wait may still return without one: wait in a loop on the
//     condition ([Cond.WaitFor] does).
//   - Outside Linux there is no futex: blocking calls fail with an error
//     wrapping errors.ErrUnsupported.
//
// Each primitive's shared words are a struct in its file (mutexWords in
// mutex.go, ...) saying who writes and reads them, with the lost wake-up
// argument of every wait. Memory ordering, arm64 too, as with Go's sync:
// what a process wrote before a release (Unlock, Release, Set, Done,
// Notify) is seen after the acquire it lets through (Lock, Acquire, Wait).
package sync
