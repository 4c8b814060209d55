// Package spin is the one adaptive spin policy of forkless: how long a
// waiter re-checks its word before it sleeps in the kernel.
//
// On the virtual machines forkless is measured on, a futex hand-off costs
// 5-30 µs and a hand-off caught while spinning well under 1 µs, so a waiter
// first re-checks its word for a while (the other side, running on the
// other core, usually answers within it), then yields its thread for as
// long again (so a holder sharing this core can run), and only then sleeps.
//
// How long is adaptive, per primitive and process ([Budget]): spinning only
// pays when the other side is running. On a machine with more runnable
// threads than cores it is not, and a spinning waiter only delays the sleep
// it ends in (measured under load: 4 µs of spin per side doubled an Event
// round trip). So a spin that ends in a sleep halves the budget, and a spin
// that catches the hand-off doubles it (plus a small constant, so that 0 can
// grow), between 0 and the budget's ceiling: on a quiet machine it sits at
// the ceiling, on a loaded one at 0, a few dozen re-checks.
//
// Three more rules keep a spinner off a CPU someone else needs. The first
// phase yields to this process's other goroutines every few dozen
// re-checks, so a spinner never holds the P of the goroutine that would end
// its wait. A lock's waiter ([Budget.StartLock]) past its first
// microsecond also gives up its thread's CPU (sched_yield) every few dozen
// re-checks: a lock is held that long only when its holder lost its CPU,
// and the thread waiting for this one is then often the holder, or the
// consumer the lock's holders feed. And a process that has just woken a
// sleeper ([Woke], called by internal/event's Notify) skips the spin of
// its next event wait ([Budget.StartWait]; locks' spins are not affected)
// and sleeps at once, as a pipe's writer does: the woken side needs a CPU,
// often this one; one such wait in 8 spins anyway, so a conversation that
// fell into sleeping hand-offs finds out when spinning pays again.
//
// The budget is process-local on purpose: whether spinning pays depends on
// this process's scheduling, and a word in shared memory would bounce
// between the processes' caches. Concurrent waiters race on it; the last
// store wins, which is fine for a hint.
package spin
