package ring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
)

// EventCount lets processes sleep until a condition on shared memory may have
// become true, and lets the process that makes it true wake them without a
// system call when nobody sleeps. It is the blocking layer under every ring
// of this package; it holds no data of its own, only two 4-byte words that
// may live anywhere in a shm.Block:
//
//	word     bits                         written by                 read by
//	seq      a counter, wraps at 2^32     Notify (when a waiter is   Wait, as the futex word: it
//	                                      announced), context        sleeps while seq is unchanged
//	                                      cancellation (spurious
//	                                      wake-up)
//	waiters  number of announced sleepers Wait (+1 before the last   Notify: 0 means nobody can be
//	                                      check, -1 after waking)    asleep, so no system call
//
// The condition itself ("the ring is not empty") is the caller's: Wait takes
// it as a func, and the signaller must make it true with an atomic store
// BEFORE it calls Notify. An EventCount is a small value (two pointers into
// the mapping); copies share the words. It is safe for any number of waiters
// and notifiers in any number of processes.
//
// # Lost wake-ups
//
// A waiter W and a notifier N race; Go's atomic operations are sequentially
// consistent (the Go memory model; on amd64 they are LOCK-prefixed or XCHG,
// on arm64 LDAR/STLR), and the same instructions order the mapped words
// between processes. The steps:
//
//	W1 waiters += 1            (atomic add: announces W)
//	W2 s := seq                (atomic load)
//	W3 if ready() { waiters -= 1; return }
//	W4 futex_wait(&seq, s)     (the kernel sleeps only if seq still == s,
//	                            checked atomically with queueing W)
//	W5 waiters -= 1; go to the top
//
//	N1 make ready() true       (the caller's atomic store)
//	N2 if waiters == 0 return  (atomic load)
//	N3 seq += 1                (atomic add)
//	N4 futex_wake(&seq, all)
//
// In the single total order of these atomics, either W1 comes before N2 or
// N2 comes before W1.
//
//   - N2 before W1: then N1 (before N2) precedes W3's loads, so W3 sees the
//     condition true and W never sleeps.
//   - W1 before N2: N2 reads waiters >= 1 and N goes on to N3. If N3 comes
//     before W2, W2 reads the new seq and W3 comes after N1, so W3 sees the
//     condition (as above). If N3 comes after W2, seq != s from N3 on: a
//     futex_wait that starts after N3 returns at once (EAGAIN), and one that
//     started before N3 has W queued, so N4 (after N3) wakes it.
//
// In every case W does not sleep through N's change. The waiters count only
// decides whether N pays for N3 and N4; a stale non-zero count costs a
// useless system call, never a lost wake-up.
//
// # Caveats
//
// Notify wakes every sleeper on the word (a broadcast); each re-checks its
// condition and the losers sleep again. A waiter killed while asleep leaves
// waiters one too high for the life of the words: from then on every Notify
// makes a (useless) system call, but nothing hangs. The seq counter wraps at
// 2^32; a waiter that reads seq, is descheduled for exactly 2^32 Notify calls
// and then sleeps would miss one wake-up, which no realistic schedule does
// (and WaitEvery bounds even that). On systems without futexes (not Linux)
// Wait falls back to polling with short sleeps.
type EventCount struct {
	seq     *atomic.Uint32
	waiters *atomic.Uint32
}

// NewEventCount makes an EventCount over two distinct 4-byte words, which
// must live in shared memory (or in ordinary memory for use within one
// process) and start at zero or at the values a previous EventCount over
// them left.
func NewEventCount(seq, waiters *atomic.Uint32) EventCount {
	if seq == nil || waiters == nil || seq == waiters {
		panic("forkless/ring: NewEventCount needs two distinct words")
	}
	return EventCount{seq: seq, waiters: waiters}
}

// EventCountAt makes an EventCount over the words at seqOff and waitersOff
// of b (4-aligned, inside b, distinct; a bad offset panics, as
// shm.Block.Uint32 does).
func EventCountAt(b shm.Block, seqOff, waitersOff int64) EventCount {
	return NewEventCount(b.Uint32(seqOff), b.Uint32(waitersOff))
}

// Spin budget: how long Wait re-checks the condition before it announces
// itself and sleeps. A futex hand-off costs 5-30 µs on the project's virtual
// machines and a caught spin well under 1 µs, so spinning for about as long
// as a hand-off costs is the best bet (the two-competitive rule).
const (
	ecSpinChecks = 64                    // tight re-checks before looking at the clock
	ecSpinFor    = 20 * time.Microsecond // total spin, yielding the P between rounds
	ecPollSleep  = 50 * time.Microsecond // sleep between checks where futexes are missing
)

// Wait returns nil as soon as ready reports true, or the context's error
// (wrapped) once ctx is done. ready is called any number of times, from
// the calling goroutine only; it must be cheap and must not block. A
// condition that can also end the wait for another reason (a closed ring)
// belongs inside ready: return true, and let the caller look again.
//
// Wait makes no system call when ready becomes true while it spins.
func (e EventCount) Wait(ctx context.Context, ready func() bool) error {
	return e.WaitEvery(ctx, 0, ready)
}

// WaitEvery is Wait that also re-checks ready at least every `every` (when
// every > 0) even if nobody calls Notify. It is for conditions that change
// without a notification, such as "the process I wait for has died".
func (e EventCount) WaitEvery(ctx context.Context, every time.Duration, ready func() bool) error {
	if ready() {
		return nil
	}
	// Spin: re-check, yielding the processor between rounds so that a
	// notifier in the same process can run.
	var start time.Time
	for round := 0; ; round++ {
		for range ecSpinChecks {
			if ready() {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		if round == 0 {
			start = time.Now()
		} else if time.Since(start) > ecSpinFor {
			break
		}
		runtime.Gosched()
	}

	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		// W1: announce. From here on a notifier that changes the condition
		// sees waiters > 0 and bumps seq (see the steps above).
		e.waiters.Add(1)
		// W2: the futex value to sleep on.
		s := e.seq.Load()
		// W3: the last check, after the announcement.
		if ready() {
			e.waiters.Add(^uint32(0))
			return nil
		}
		if err := ctx.Err(); err != nil {
			e.waiters.Add(^uint32(0))
			return fmt.Errorf("wait: %w", err)
		}
		if stop == nil && ctx.Done() != nil {
			// Cancellation bumps seq and wakes the word: every sleeper on it
			// returns (spuriously for the others, which sleep again), and
			// this one sees ctx.Err at its next check.
			stop = context.AfterFunc(ctx, func() {
				e.seq.Add(1)
				futex.Wake(e.seq, -1) //nolint:errcheck // best effort; a failure leaves the poll below
			})
		}
		timeout := time.Duration(-1)
		if every > 0 {
			timeout = every
		}
		// W4: sleep while seq == s.
		err := futex.Wait(e.seq, s, timeout)
		// W5: no longer asleep.
		e.waiters.Add(^uint32(0))
		if err != nil && !errors.Is(err, futex.ErrTimeout) {
			if !errors.Is(err, errors.ErrUnsupported) {
				return fmt.Errorf("wait: %w", err)
			}
			// No futex here: poll.
			time.Sleep(ecPollSleep)
		}
		if ready() {
			return nil
		}
	}
}

// Notify wakes every process and goroutine sleeping in Wait on this
// EventCount. Call it after the atomic store that makes their condition
// true. It makes a system call only when a waiter has announced itself.
// It reports whether it made one.
func (e EventCount) Notify() bool {
	// N2: nobody announced, nobody can be asleep (or about to sleep
	// without re-checking the condition after our store).
	if e.waiters.Load() == 0 {
		return false
	}
	// N3, N4.
	e.seq.Add(1)
	futex.Wake(e.seq, -1) //nolint:errcheck // EFAULT/EINVAL would be a bug in the word's address; the waiter's recheck covers ENOSYS
	return true
}

// Waiters reports how many waiters have announced themselves (a snapshot,
// for tests and diagnostics).
func (e EventCount) Waiters() uint32 { return e.waiters.Load() }
