// Package sync gives processes that share memory the locks and signals of
// Python's multiprocessing: Mutex, RLock, RWMutex, Semaphore,
// BoundedSemaphore, Cond, Event, Barrier and a WaitGroup. Its name shadows
// the standard library's, so import it under another name:
//
//	import fsync "github.com/forkless-go/forkless/sync"
//
// Every primitive lives in a shared-memory region (package shm): make one
// with NewX(region), pass its Handle to a child (spawn shares the region),
// and bind it there with OpenX(handle). A shared object of another package
// can also carry a primitive inside its own block with XAt(block, offset):
// each XAt documents its size (XSize) and alignment (XAlign). Nothing in
// the shared bytes is a pointer: every process maps them at its own address.
//
// # Design
//
// Each primitive is one or a few 32- or 64-bit words, changed with atomic
// compare-and-swap. A blocking call first re-checks its word in a short
// spin (up to 20 µs, then as long again yielding its thread), and only then
// sleeps in the kernel with futex(FUTEX_WAIT) on a word, without
// FUTEX_PRIVATE_FLAG so that processes mapping the page at different
// addresses meet on it. A waiter announces itself in the word (a waiters
// bit or count) before it sleeps, and a release makes the FUTEX_WAKE system
// call only when it sees that announcement: with nobody waiting, lock and
// unlock are one atomic instruction each and no system call (the tests
// prove it with futex.Syscalls). Each file writes out why no wake-up can be
// lost, next to the code.
//
// The spin length adapts, per primitive in each process: it doubles when a
// spin catches the hand-off and halves when it ends in a sleep anyway. When
// the other process runs on another core, a spin catches its answer in well
// under a microsecond; when the machine has more runnable threads than
// cores, spinning only delays the sleep (and takes the core the other
// process needs), so the spin shrinks to a few dozen re-checks and a
// hand-off costs what the futex costs, about what a pipe costs.
//
// Every blocking call has a form taking a context.Context. Cancellation
// wakes the sleeper at once through a context.AfterFunc hook that issues
// FUTEX_WAKE on the word (see internal/futex.WaitContext for why this beats
// polling with short timeouts), and the sleeper returns the context's error.
// A waiter leaving that way passes on any wake-up it may have absorbed.
//
// # Owners and dead processes
//
// Mutex, RLock, RWMutex (for writers) and Cond's Mutex record their holder
// in one 64-bit owner word: the holder's pid and the low 32 bits of its
// start time (from /proc, so a later process given the same pid does not
// pass for it). The holder is a process, not a goroutine: Go has no
// goroutine identity, and the processes are what can die. A sleeper wakes
// every few milliseconds (2 ms, doubling to 64 ms) to check that the holder
// still lives; when it does not, the sleeper takes the lock from it with a
// compare-and-swap from exactly the dead holder's word (so only one
// sleeper wins) and its Lock returns ErrOwnerDead: it holds the lock, the
// guarded data may be half-updated, and the lock works normally from then
// on. Python's multiprocessing deadlocks every process here.
//
// What each primitive does when a process dies inside it:
//
//   - Mutex, RLock: the next locker takes the lock within about 70 ms and
//     gets ErrOwnerDead (an RLock starts again at depth 1). A process dying
//     while waiting leaves at most a waiters bit that costs one spare wake.
//   - RWMutex: a dead writer is handled like a dead Mutex holder, found by
//     the next writer or by a blocked reader (which clears the writer's
//     claim; both get ErrOwnerDead). The read locks of a dead reader are
//     taken back by a waiting writer (16 reading processes are tracked).
//   - Semaphore, BoundedSemaphore: units a dead process held are lost, as in
//     Python; no one is blocked by its death otherwise.
//   - Cond: its Mutex behaves as above (Wait returns ErrOwnerDead when its
//     relock took the Mutex from a dead holder). A dead waiter costs spare
//     wakes only.
//   - Event: it has no owner; a death leaves it consistent.
//   - Barrier: a waiter that has slept a while aborts the barrier when a
//     process it expects in this generation died, or died inside the
//     barrier's internal Mutex: everyone gets ErrBroken instead of hanging.
//   - WaitGroup: a process that dies before its Done leaves the count up,
//     so Wait waits until its context ends.
//
// # Memory layout
//
// The owner word (Mutex, RLock, RWMutex, Cond, Barrier's internal lock):
//
//	bits  0-29  pid of the holder, 0 when unlocked
//	bit     30  reserved, zero
//	bit     31  waiters: someone sleeps on the word, or is about to
//	bits 32-63  low 32 bits of the holder's start time, in clock ticks
//
// Its low 32 bits are the futex word. Every type's documentation gives the
// rest of its layout, who writes each word and who reads it. Sizes and
// alignments for XAt:
//
//	Mutex 8/8  RLock 16/8  RWMutex 272/8  Semaphore 16/8  Cond 16/8
//	Event 8/8  WaitGroup 8/8  Barrier 416/8
//
// Objects made by NewX carry kinds 0x0101-0x0109 (KindMutex ...) in their
// shm object header, so a handle of another kind is refused by OpenX.
//
// # Caveats
//
//   - The holder of a lock is the process. Goroutines of the holding process
//     may unlock a Mutex another of them locked, and all share an RLock's
//     hold; exclude goroutines of one process from each other with the
//     standard library's sync as well.
//   - Misuse panics with a "forkless/sync:" prefix, as the standard library
//     does: unlocking a lock this process does not hold, a negative
//     WaitGroup count, calling Unlock, Set, Signal and the other methods
//     without an error result after the region was closed. Methods with an
//     error result return one wrapping shm.ErrClosed instead.
//   - Closing a region while another goroutine of the process is inside a
//     method of a primitive in it is a bug, as with any shm object.
//   - Death detection reads /proc; where it cannot tell (no /proc), a holder
//     is presumed alive and its lock is never taken from it.
//   - Every process using a primitive must see the others' pids: share one
//     pid namespace. Processes in different containers that map one named
//     region would take each other for dead.
//   - A holder is noticed dead only by a waiter that has slept (2 ms, then
//     doubling to 64 ms between checks); TryLock never takes a dead
//     holder's lock.
//   - Cond.Wait may return without a matching Signal; always wait in a loop
//     on the condition (Cond.WaitFor does).
//   - The spin before sleeping burns up to 40 µs of CPU per contended call
//     while it pays; it is what makes a hand-off between two running
//     processes take well under a microsecond instead of tens.
//   - Outside Linux there is no futex: regions cannot be made there anyway,
//     and blocking calls fail with an error wrapping errors.ErrUnsupported.
package sync
