package event

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/spin"
)

// Words are the two 4-byte words of a [Count] in shared memory. They
// start at zero, may sit anywhere 4-aligned in a mapping (usually on a cache
// line of their own inside a ring's header struct), and hold no data: only
// the state of the sleepers.
type Words struct {
	// seq: bit 0 (sleepers) is set by a waiter about to sleep on the
	// current value (CAS, before its last check of the condition); bits
	// 1-31 count wake-ups, bumped by Notify (CAS, which also clears bit 0)
	// and by a waiter's context cancellation (+2). Read by Wait, as the
	// futex word it sleeps on while seq is unchanged, and by Notify, which
	// makes no system call while bit 0 is clear. The CAS that sets bit 0
	// hands "a waiter sleeps" to the next Notify; Notify's CAS hands the
	// wake-up to every waiter sleeping on the old value.
	seq atomic.Uint32
	// waiters counts waiters between their announcement and their return
	// (Wait: +1, -1). Read by Count.Waiters only, for tests and
	// diagnostics; nothing synchronizes on it.
	waiters atomic.Uint32
}

// The layout other processes rely on.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(Words{}.seq)-0]
	_ = [1]struct{}{}[unsafe.Offsetof(Words{}.waiters)-4]
	_ = [1]struct{}{}[unsafe.Sizeof(Words{})-8]
)

// Count returns this process's view of the words (see [Count]).
func (w *Words) Count() Count { return New(&w.seq, &w.waiters) }

// Count lets processes sleep until a condition on shared memory may have
// become true, and lets the process that makes it true wake them without a
// system call when nobody sleeps. It holds no data of its own, only two
// 4-byte words that may live anywhere in shared memory ([Words]).
//
// The condition itself ("the ring is not empty") is the caller's: Wait takes
// it as a func, and the signaller must make it true with an atomic store
// BEFORE it calls Notify. A Count is a small value (two pointers into
// the mapping); copies share the words. It is safe for any number of waiters
// and notifiers in any number of processes.
//
// Only the first Notify after a waiter went to sleep pays for a system call:
// it clears SLEEPERS as it bumps the counter, so the Notify calls that
// follow while the woken waiters are still getting up (micro-seconds on a
// loaded machine) cost one atomic load each.
//
// # Caveats
//
// A wake-up is a broadcast: every sleeper re-checks its condition and the
// losers sleep again. The counter wraps at 2^31 bumps; a waiter that reads
// seq, is descheduled for exactly 2^31 wake-ups and then sleeps would miss
// one, which no realistic schedule does. A Notify can also be lost to
// another process: one killed between its CAS and its wake-up, or a stray
// write that cleared SLEEPERS; so no sleep is longer than a second, and a
// lost Notify delays a waiter by that much at most, never strands it. A
// waiter killed while asleep leaves waiters one too high (diagnostics only)
// and nothing else. On systems without futexes (not Linux) Wait falls back
// to polling with short sleeps.
type Count struct {
	seq     *atomic.Uint32
	waiters *atomic.Uint32
	spin    *spin.Budget // this process's spin budget for these words (shared by copies)
}

// New makes a Count over two distinct 4-byte words, which
// must live in shared memory (or in ordinary memory for use within one
// process) and start at zero or at the values a previous Count over
// them left.
func New(seq, waiters *atomic.Uint32) Count {
	if seq == nil || waiters == nil || seq == waiters {
		panic("forkless/internal/event: New needs two distinct words")
	}
	return Count{seq: seq, waiters: waiters, spin: new(spin.Budget)}
}

// The spin before a sleep is internal/spin's adaptive budget, per Count
// and process. Its ceiling is spin.DefaultMax (20 µs); a conversation's
// receiving Count (a Pipe's) gets SpinTalk, since its peer may take tens of
// µs to answer (docs/bench/queue.md has the figures behind both).
const (
	SpinTalk    = 64 * time.Microsecond // the spin ceiling of a conversation's Count (SetSpinMax)
	ecPollSleep = 50 * time.Microsecond // sleep between checks where futexes are missing
	// ecFirstSleep bounds a wait's first sleep, taken without the
	// cancellation hook: how late a cancellation may be noticed then.
	ecFirstSleep = time.Millisecond
	// ecMaxSleep bounds every sleep: the Notify meant for a sleeper can
	// be lost to another process (killed between its CAS and its
	// FUTEX_WAKE; or a stray write that cleared SLEEPERS, so the CAS made
	// no system call), and the sleeper then looks again after this long
	// instead of sleeping for good. An idle waiter pays a wake-up a second.
	ecMaxSleep = time.Second

	ecSleepers = 1 // bit 0 of seq: a waiter sleeps (or is about to) on this value
)

// SetSpinMax sets the ceiling of e's spin budget in this process (for
// every copy of e).
func (e Count) SetSpinMax(d time.Duration) { e.spin.SetMax(d) }

// Wait returns nil as soon as ready reports true, or the context's error
// (wrapped) once ctx is done. ready is called any number of times, from
// the calling goroutine only; it must be cheap and must not block. A
// condition that can also end the wait for another reason (a closed ring)
// belongs inside ready: return true, and let the caller look again.
//
// Wait makes no system call when ready becomes true while it spins.
func (e Count) Wait(ctx context.Context, ready func() bool) error {
	return e.WaitEvery(ctx, 0, ready)
}

// WaitEvery is Wait that also re-checks ready at least every `every` (when
// every > 0) even if nobody calls Notify. It is for conditions that change
// without a notification, such as "the process I wait for has died".
func (e Count) WaitEvery(ctx context.Context, every time.Duration, ready func() bool) error {
	if e.Spin(ready) {
		return nil
	}
	return e.Sleep(ctx, every, ready)
}

// WaitFor is WaitEvery whose re-check period is chosen again before each
// sleep: next returns it (<= 0: sleep until notified, or a second at
// most: every sleep is bounded by ecMaxSleep). It lets a waiter sleep long
// while nothing can change without a notification (an idle ring costs a
// wake-up a second) and re-check often while it can (a claim whose owner
// may have died).
func (e Count) WaitFor(ctx context.Context, next func() time.Duration, ready func() bool) error {
	if e.Spin(ready) {
		return nil
	}
	return e.SleepFor(ctx, next, ready)
}

// SleepFor is WaitFor after the spin.
func (e Count) SleepFor(ctx context.Context, next func() time.Duration, ready func() bool) error {
	return e.sleep(ctx, 0, next, ready)
}

// Spin re-checks ready for this Count's current spin budget (adaptive,
// internal/spin: re-checking at once, then yielding the processor so that a
// notifier on this core can run), and reports whether it became true. It
// never sleeps and makes no system call. A spin that catches the condition
// grows the budget; one that runs out halves it. Wait is Spin, then Sleep.
func (e Count) Spin(ready func() bool) bool {
	if ready() {
		return true
	}
	sp := e.spin.StartWait()
	for sp.Again() {
		if ready() {
			sp.Caught()
			return true
		}
	}
	return false
}

// Sleep is WaitEvery after the spin: steps W1-W4 below.
//
// # Lost wake-ups
//
// A waiter W and a notifier N race; Go's atomic operations are sequentially
// consistent (the Go memory model; on amd64 they are LOCK-prefixed or XCHG,
// on arm64 LDAR/STLR), and the same instructions order the mapped words
// between processes. The steps:
//
//	W1 s := seq; if SLEEPERS is clear in s, CAS seq from s to s|SLEEPERS
//	   (retry W1 on failure); s |= SLEEPERS
//	W2 if ready() return
//	W3 futex_wait(&seq, s)     (the kernel sleeps only if seq still == s,
//	                            checked atomically with queueing W)
//	W4 go to W1
//
//	N1 make ready() true       (the caller's atomic store)
//	N2 s := seq; if SLEEPERS is clear in s, return (no system call)
//	N3 CAS seq from s to (s+2) with SLEEPERS clear; on failure go to N2
//	N4 futex_wake(&seq, all)
//
// Take a W that sleeps at W3 on value v (SLEEPERS set): its W1 made or saw
// seq == v before its W2, and its W2 found the condition false, so W2 came
// before N1 in the total order, and so before N's load at N2. Only
// notifiers and cancellations change seq away from a value with SLEEPERS
// set (waiters only ever set the bit), and each of them calls futex_wake
// after its change. At N2, either
//
//   - seq is still v: N's CAS at N3 either succeeds (then N4 wakes W, or W's
//     futex_wait, starting after N3, sees seq != v and returns at once) or
//     fails because another notifier or a cancellation changed seq first;
//   - or seq already differs from v: someone changed it after W1.
//
// In the last two cases the one who changed seq away from v wakes every
// sleeper after its change, so W's futex_wait returns (EAGAIN if it starts
// later, a wake-up if it was queued before). Either way W runs W2 again
// after N1 and sees the condition. W never sleeps through N's change.
func (e Count) Sleep(ctx context.Context, every time.Duration, ready func() bool) error {
	return e.sleep(ctx, every, nil, ready)
}

// sleep is Sleep with the period every, or chosen by next before each
// futex wait when next is not nil.
func (e Count) sleep(ctx context.Context, every time.Duration, next func() time.Duration, ready func() bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait: %w", err)
	}

	// The cancellation callback touches the words; Wait must not return
	// while it may still run, or a caller that unmaps the region right
	// after Wait returns (a test's Close, a process tearing a ring down)
	// would have it fault. So if stop finds the callback already started
	// (the context ended while this waiter was being woken), wait for it.
	var stop func() bool
	var fired chan struct{}
	defer func() {
		if stop != nil && !stop() {
			<-fired
		}
	}()
	e.waiters.Add(1)
	defer e.waiters.Add(^uint32(0))
	first := true
	for {
		// W1: announce on the futex word itself: set SLEEPERS on the value
		// we will sleep on, so a notifier from here on pays for a wake-up.
		s, announced := e.announce()
		// W2: the last check, after the announcement.
		if ready() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		if stop == nil && ctx.Done() != nil && !first {
			// Cancellation changes seq and wakes the word: every sleeper on
			// it returns (spuriously for the others, which sleep again), and
			// this one sees ctx.Err at its next check.
			fired = make(chan struct{})
			stop = context.AfterFunc(ctx, func() {
				defer close(fired)
				e.seq.Add(2)
				futex.Wake(e.seq, -1) //nolint:errcheck // best effort; a failure leaves the poll below
			})
		}
		timeout := time.Duration(-1)
		if next != nil {
			every = next()
		}
		if every > 0 {
			timeout = every
		}
		if timeout < 0 || timeout > ecMaxSleep {
			timeout = ecMaxSleep // a lost Notify delays, never strands (ecMaxSleep)
		}
		if !announced {
			timeout = ecPollSleep // not announced: no Notify would wake this sleep
		}
		if stop == nil && ctx.Done() != nil && (timeout < 0 || timeout > ecFirstSleep) {
			// The first sleep of a wait goes without the cancellation hook
			// (a registration and a closure per sleep, which a conversation
			// pays at every hop): it is cut at ecFirstSleep instead, and
			// only a wait still asleep then sets the hook up.
			timeout = ecFirstSleep
		}
		first = false
		// W3: sleep while seq == s.
		err := futex.Wait(e.seq, s, timeout)
		if err != nil && !errors.Is(err, futex.ErrTimeout) {
			if !errors.Is(err, errors.ErrUnsupported) {
				return fmt.Errorf("wait: %w", err)
			}
			// No futex here: poll.
			time.Sleep(ecPollSleep)
		}
		// W4: look again.
	}
}

// announce is step W1: it sets SLEEPERS on the current value of seq and
// returns that value. The CAS fails only when seq changed meanwhile (a
// notifier or a cancellation made progress), but another process can
// write anything there, so after ecRetries failures it gives up and
// reports false: the caller then sleeps briefly instead of until notified.
func (e Count) announce() (uint32, bool) {
	s := e.seq.Load()
	for range ecRetries {
		if s&ecSleepers != 0 || e.seq.CompareAndSwap(s, s|ecSleepers) {
			return s | ecSleepers, true
		}
		s = e.seq.Load()
	}
	return s, false
}

// ecRetries bounds the CAS loops on seq (announce, Notify): each failure
// means the word changed, which only a scribbling process makes endless.
const ecRetries = 1024

// Notify wakes every process and goroutine sleeping in Wait on this
// Count. Call it after the atomic store that makes their condition
// true. It makes a system call only when a waiter has announced itself.
// It reports whether it made one.
func (e Count) Notify() bool {
	for range ecRetries {
		// N2: SLEEPERS clear: nobody sleeps on the current value (or is
		// about to without re-checking the condition after our store).
		s := e.seq.Load()
		if s&ecSleepers == 0 {
			return false
		}
		// N3: bump and clear, so the next Notify makes no system call
		// until someone announces a sleep again.
		if e.seq.CompareAndSwap(s, (s+2)&^ecSleepers) {
			// N4. A sleeper woken: this process's next wait leaves the CPU
			// to it rather than spin (internal/spin.Woke).
			if n, _ := futex.Wake(e.seq, -1); n > 0 {
				spin.Woke()
			}
			return true
		}
	}
	// The word keeps changing under us (scribbled): wake everyone anyway.
	futex.Wake(e.seq, -1) //nolint:errcheck // best effort
	return true
}

// Sleepers reports whether a waiter has announced a sleep on the current
// value (a Notify now would make a system call): one load, for a notifier
// that can skip work nobody waits for.
func (e Count) Sleepers() bool { return e.seq.Load()&ecSleepers != 0 }

// Waiters reports how many goroutines are past their spin in Wait, about to
// sleep or asleep (a snapshot, for tests and diagnostics).
func (e Count) Waiters() uint32 { return e.waiters.Load() }
