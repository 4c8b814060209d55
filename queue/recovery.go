package queue

import (
	"fmt"
	"sync"
	"time"

	"github.com/forkless-go/forkless/internal/owner"
)

// Crash recovery timing: a waiter that has seen the same record held for
// recoverAfter checks its owner's liveness, then again every recoverEvery.
// A live but slow owner is never robbed: only a dead one is.
const (
	recoverAfter = 20 * time.Millisecond
	recoverEvery = 10 * time.Millisecond
	tryLockFor   = 5 * recoverAfter

	// idleRecheck is how often a waiter looks again when nothing it waits
	// behind can die unseen (an empty ring, a full ring of committed
	// records): what it waits for comes with a notification, and this is
	// only a safety net. A Pipe checks its peer's liveness at this period
	// too, so an idle waiter costs one wake-up a second.
	idleRecheck = time.Second

	// deferredRecheck is a wait for room's first re-check period (see
	// roomRecheck).
	deferredRecheck = time.Millisecond
)

// takeRecheck is a consumer's re-check period: recoverEvery while the
// record at the head is claimed (its producer may die without a word),
// idleRecheck otherwise.
func (q *records) takeRecheck() time.Duration {
	h := q.head.Load()
	if h != q.tail.Load() && q.state(h).Load()&recStateMask == recClaimed {
		return recoverEvery
	}
	return idleRecheck
}

// putRecheck is a waiting producer's re-check period: recoverEvery while
// the oldest record not yet freed is being read (its reader may die
// without a word), idleRecheck otherwise.
func (q *records) putRecheck() time.Duration {
	f := q.freed.Load()
	if f < q.head.Load() && q.state(f).Load()&recStateMask == recReading {
		return recoverEvery
	}
	return idleRecheck
}

// roomRecheck returns one wait for room's re-check periods: putRecheck's,
// but starting at deferredRecheck and doubling up to it. A consumer's
// release wakes a producer sleeping for room only once an eighth of the
// ring can be handed back (release); should the consumer stop taking
// before that, the producer finds the room on its own, after about as long
// again as it had waited, and within idleRecheck.
func (q *records) roomRecheck() func() time.Duration {
	period := time.Duration(0)
	return func() time.Duration {
		period = min(max(2*period, deferredRecheck), q.putRecheck())
		return period
	}
}

// maxSteps bounds every loop over the ring's shared words that advances
// while others make progress (a lost CAS, a cursor moved under us): another
// process can write anything there, and a word that keeps changing must
// not hold this process. A loop that walks records (skipping them at the
// head, passing freed over them) is bounded by stepBound instead: the most
// records the ring can hold, plus maxSteps.
const maxSteps = 1 << 16

// stepBound bounds a walk over the records of the ring in one call: no
// correct schedule passes more records than the data area holds (one per
// recAlign bytes) plus what lost CASes cost (maxSteps).
func (q *records) stepBound() int { return int(q.cap/recAlign) + maxSteps }

// ownerWord returns the owner bits (8-63) of a record state word naming
// this process: its pid (24 bits) and the low half of its start time, as
// internal/owner identifies it. The state bits (0-7) are the record's.
var ownerWord = sync.OnceValues(func() (uint64, error) {
	w, err := owner.Self()
	if err != nil {
		return 0, fmt.Errorf("identify this process: %w", err)
	}
	id := w.ID()
	return uint64(uint32(id.Pid)&0xffffff)<<8 | uint64(id.Start)<<32, nil
})

// ownerAlive reports whether the process named by the owner bits of w still
// runs. An unknown answer (no /proc, another system) counts as alive, so a
// live owner is never robbed; a word naming nobody (pid 0) is dead.
func ownerAlive(w uint64) bool {
	return owner.ID{Pid: int32((w >> 8) & 0xffffff), Start: uint32(w >> 32)}.Alive()
}

type stall struct {
	word  uint64 // the state word seen
	since time.Time
	last  time.Time // last liveness check
}

// stalled records that a waiter in this process sees word at key (a
// record's position), and reports true when the same word has been there
// for recoverAfter and no liveness check was made for recoverEvery: time to
// check its owner.
func (q *records) stalled(key, word uint64) bool {
	now := time.Now()
	q.stallMu.Lock()
	defer q.stallMu.Unlock()
	if q.stalls == nil {
		q.stalls = make(map[uint64]stall)
	}
	s, ok := q.stalls[key]
	if !ok || s.word != word {
		if len(q.stalls) > 64 {
			clear(q.stalls)
		}
		q.stalls[key] = stall{word: word, since: now}
		return false
	}
	if now.Sub(s.since) < recoverAfter || now.Sub(s.last) < recoverEvery {
		return false
	}
	s.last = now
	q.stalls[key] = s
	return true
}

func (q *records) unstall(key uint64) {
	q.stallMu.Lock()
	delete(q.stalls, key)
	q.stallMu.Unlock()
}

// freeDead frees the record at p, whose state word w (claimed or reading)
// names a dead owner, if it is still so and still is the record at p
// (genuine() re-checks a cursor that proves the bytes at p are the
// record's own: head == p, or freed == p). It runs under the claim lock,
// which every recoverer holds, so the steps are:
//
//  1. genuine() holds under the lock: the record at p has not been freed,
//     so the word at p is its own, not bytes of a later lap.
//  2. Only its owner (dead: no commit, abort or release any more) or a
//     recoverer (serialized by the lock) can free it; a consumer's take CAS
//     expects a committed word and a stale one's undo a reading word of its
//     own live process, neither equal to w. So the record stays w until
//     the CAS below, which cannot land on reused bytes.
//
// A lock that cannot be had within tryLockFor (a stopped holder) makes it
// report false; the caller tries again later.
func (q *records) freeDead(p, w uint64, genuine func() bool) bool {
	if !q.tryLockClaim() {
		return false
	}
	defer q.unlockClaim()
	return genuine() && q.state(p).CompareAndSwap(w, recFree|(w&recFlagSpill)|q.me)
}
