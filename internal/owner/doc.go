// Package owner is the one owner word of forkless: a 64-bit word in shared
// memory that names the process holding something (a lock, a claim), so
// that the others can tell when that process has died and take over.
//
// A process is named by its pid and the low 32 bits of its start time, in
// clock ticks since boot (see internal/proc): a later process given the same
// pid has another start time, so pid reuse cannot pass for the dead holder
// (the low 32 bits of a start time repeat only every 2^32 ticks, 497 days at
// 100 Hz). The word ([Word]):
//
//	bits  0-29  pid of the holder (0: nobody; Linux pids stay below 2^22)
//	bit     30  inconsistent: taken from a dead holder, not yet marked
//	            consistent (robust locks; alone, pid 0: not recoverable)
//	bit     31  waiters: some process sleeps, or is about to, on the word
//	bits 32-63  low 32 bits of the holder's start time
//
// The low half (bits 0-31) is also the futex word waiters sleep on, so a
// release can wake them and a waiter's sleep notices a release.
//
// [Self] is this process's identity, computed once, lazily, and returned
// with an error instead of a panic. [Alive] asks /proc whether the process
// a word names still runs. [Lock] is a robust lock on one owner word: taken
// with one compare-and-swap, released with one (and a futex wake only when
// someone waits), and taken over from a dead holder with [ErrOwnerDead].
// A [RobustLock] ([Lock.Robust]) follows pthread's robust mutex: the taker
// holds it inconsistent until [RobustLock.MarkConsistent]; an unlock before
// that leaves it [NotRecoverable] ([ErrNotRecoverable] for every later
// locker).
//
// A [Watcher] wakes a sleeper when a process it waits on exits (a pidfd in
// the netpoller), so waits need not nap briefly to look for dead peers. A
// [Record] is this process's own count of the goroutines holding or taking
// a lock ([RobustLock.LockRecorded]): a word naming this process that no goroutine
// here holds was written by another process, and is [errs.ErrCorrupt],
// never a hold of this process's.
package owner
