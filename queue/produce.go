package queue

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/mapped"
)

// tryClaim claims a record for n payload bytes (flags: recFlagSpill or 0).
// It returns the record's position, or ErrFull (no room now), ErrClosed.
//
// Under the claim lock it reads tail, pads to the end of the data area when
// the record would not fit before it, checks room against freed (and the
// item limit), writes the header(s) and stores tail: that store publishes
// the claimed record to consumers, which see it claimed (by this process)
// until commit.
func (q *records) tryClaim(n int, flags uint64) (uint64, error) {
	if err := q.checkSpan(n); err != nil {
		return 0, err
	}
	if !q.tryLockClaim() {
		return 0, ErrFull
	}
	return q.claimLocked(n, flags)
}

// claimOnce is tryClaim that waits for the claim lock (not for room) until
// ctx is done.
func (q *records) claimOnce(ctx context.Context, n int, flags uint64) (uint64, error) {
	if err := q.checkSpan(n); err != nil {
		return 0, err
	}
	if err := q.lockClaim(ctx); err != nil {
		return 0, fmt.Errorf("put: %w", err)
	}
	return q.claimLocked(n, flags)
}

func (q *records) checkSpan(n int) error {
	if n < 0 || recSpan(n) > q.cap/2 {
		return fmt.Errorf("put %d bytes in a %d-byte queue: %w", n, q.cap, ErrTooLarge)
	}
	return nil
}

// claimLocked is the claim itself, under the claim lock, which it releases.
func (q *records) claimLocked(n int, flags uint64) (uint64, error) {
	p, end, puts, err := q.placeLocked(n)
	if err != nil {
		return 0, err
	}
	q.rec(p).setSize(uint32(recSpan(n)), uint32(n))
	if flags&recFlagSpill != 0 && q.area != nil {
		// No block yet: a recoverer that frees this record if we die
		// before pointing it at one must not find a previous lap's offset.
		mapped.Must[atomic.Uint64](q.data, int(p&q.mask)+recHdr).Store(0)
	}
	q.publishLocked(p, end, puts, recClaimed|flags|q.me)
	return p, nil
}

// commitInLock is the largest payload a put copies under the claim lock and
// publishes committed (putLocked) instead of claiming, copying after the
// lock and committing with a CAS: the copy of a small message costs less
// than the claimed state's store and the commit CAS it saves, each a
// transfer of the record's cache line to a consumer spinning on it. Larger
// payloads are copied outside the lock, so producers copy in parallel.
const commitInLock = 512

// putLocked claims a record for msg (at most commitInLock bytes), copies
// msg into it and publishes it committed, all under the claim lock, which
// it releases; then it notifies consumers. A producer that dies before the
// tail store left nothing a consumer can see (the next claim overwrites
// it), and after it a committed record: no claimed record to recover.
func (q *records) putLocked(msg []byte) error {
	p, end, puts, err := q.placeLocked(len(msg))
	if err != nil {
		return err
	}
	q.rec(p).setSize(uint32(recSpan(len(msg))), uint32(len(msg)))
	copy(q.data[p&q.mask+recHdr:], msg)
	q.publishLocked(p, end, puts, q.committedWord(p, 0))
	q.notEmpty.Notify()
	return nil
}

// placeLocked finds room for a record of n payload bytes under the claim
// lock: it reads tail, pads to the end of the data area when the record
// would not fit before it (writing the padding's header), and checks room
// against freed and the item limit. It returns the record's position, the
// new tail and the puts count to store; on an error it releases the lock.
func (q *records) placeLocked(n int) (p, end, puts uint64, err error) {
	fail := func(err error) (uint64, uint64, uint64, error) {
		q.unlockClaim()
		return 0, 0, 0, err
	}
	span := recSpan(n)
	if q.closed.Load() != 0 {
		return fail(fmt.Errorf("put: %w", ErrClosed))
	}
	t := q.tail.Load()
	if t%recAlign != 0 {
		return fail(fmt.Errorf("put: tail %d: %w", t, ErrCorrupt))
	}
	off := t & q.mask
	var pad uint64
	if q.cap-off < span {
		pad = q.cap - off
	}
	end = t + pad + span
	if f := q.freedCache.load(); end-f > q.cap || f > t {
		f = q.freed.Load()
		if end-f > q.cap && f <= t {
			// Consumers advance freed in batches (release): do their part.
			q.advanceFreed()
			f = q.freed.Load()
		}
		q.freedCache.store(f)
		if f > t || t-f > q.cap || f%recAlign != 0 {
			return fail(fmt.Errorf("put: freed %d tail %d: %w", f, t, ErrCorrupt))
		}
		if end-f > q.cap {
			return fail(ErrFull)
		}
	}
	puts = q.puts.Load()
	if q.max != 0 && puts-q.gets.Load() >= q.max {
		return fail(ErrFull)
	}
	// The header words are published by the tail store (publishLocked):
	// plain stores on amd64 (mapped.StoreRelease), one XCHG less each.
	if pad != 0 {
		q.rec(t).setSize(uint32(pad), 0)
		mapped.StoreRelease(q.stateW(t), recPad|q.me)
	}
	return t + pad, end, puts, nil
}

// publishLocked stores the state word of the record at p (whose span and
// length are written), then puts and tail, and releases the claim lock. The
// tail store publishes the record (and any padding before it) to consumers.
func (q *records) publishLocked(p, end, puts, state uint64) {
	mapped.StoreRelease(q.stateW(p), state)
	mapped.StoreRelease(q.putsW, puts+1)
	mapped.StoreRelease(q.tailW, end)
	q.unlockClaim()
}

// claim is tryClaim that waits for room (sleeping on notFull, waitRoom)
// until ctx is done.
func (q *records) claim(ctx context.Context, n int, flags uint64) (uint64, error) {
	for {
		p, err := q.claimOnce(ctx, n, flags)
		if err != ErrFull {
			return p, err
		}
		if err := q.waitRoom(ctx, recSpan(n)); err != nil {
			return 0, err
		}
	}
}

// putSmall puts msg (at most commitInLock bytes, inline) with putLocked,
// waiting for room until ctx is done.
func (q *records) putSmall(ctx context.Context, msg []byte) error {
	for {
		if err := q.lockClaim(ctx); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		err := q.putLocked(msg)
		if err != ErrFull {
			return err
		}
		if err := q.waitRoom(ctx, recSpan(len(msg))); err != nil {
			return err
		}
	}
}

// waitRoom waits until a record of span bytes may fit, or ctx is done. It
// sleeps on notFull at once, without the spin other waits start with: a
// producer finds the ring full when its consumers are slower than its
// producers, and they hand room back an eighth of the ring at a time
// (release), far longer than a spin. A spin caught room anyway, a record
// at a time: each re-check (roomFor) advances freed over the one record a
// consumer had just released, the producer filled it and spun again. With
// more producers than cores (4P1C on 2), those spins ran on the CPU the
// consumer needed and on the cache lines it was writing (BenchmarkQueue
// 4p1c +33%, BenchmarkStreamFanIn +41% without it; docs/bench/queue.md).
// The sleep ends at the consumers' notification or at the wait's own
// re-check (roomRecheck), whichever comes first.
func (q *records) waitRoom(ctx context.Context, span uint64) error {
	err := ctx.Err()
	if err == nil { // roomFor may say yes when the claim says no (a scribbled word)
		err = q.notFull.SleepFor(ctx, q.roomRecheck(), func() bool { return q.roomFor(span) })
	}
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	return nil
}

// roomFor reports whether a record of span bytes may fit now (or the ring
// was closed, which the caller then reports). Along the way it advances
// freed past records a consumer released but did not get to account for,
// and recovers a record a dead consumer was reading (its message is lost:
// the consumer took it).
func (q *records) roomFor(span uint64) bool {
	if q.closed.Load() != 0 {
		return true
	}
	q.advanceFreed()
	t, f := q.tail.Load(), q.freed.Load()
	if f > t || t-f > q.cap || f%recAlign != 0 || t%recAlign != 0 {
		return true // corrupt: let the claim report it
	}
	off := t & q.mask
	var pad uint64
	if q.cap-off < span {
		pad = q.cap - off
	}
	room := t+pad+span-f <= q.cap
	if room && q.max != 0 {
		room = q.puts.Load()-q.gets.Load() < q.max
	}
	if room {
		return true
	}
	return q.recoverReader()
}

// recoverReader frees the record at freed if a dead consumer holds it
// (taken, never released) and has for the recovery delay, and reports
// whether it did. Its message is lost: the consumer took it. A spilled
// message's block goes back to the spill area with it.
func (q *records) recoverReader() bool {
	f := q.freed.Load()
	if f%recAlign != 0 || f >= q.head.Load() {
		return false
	}
	w := q.state(f).Load()
	if w&recStateMask != recReading || !q.stalled(f, w) || ownerAlive(w) {
		return false
	}
	if !q.freeDead(f, w, func() bool { return q.freed.Load() == f }) {
		return false
	}
	q.unstall(f)
	if w&recFlagSpill != 0 {
		q.dropSpill(f)
	}
	q.advanceFreed()
	return true
}

// commit publishes the record at p with n payload bytes (n <= the claimed
// length): the final store of its state word hands the payload, written
// with ordinary stores before it, to whichever consumer loads the word.
func (q *records) commit(p uint64, n int) error {
	r := q.rec(p)
	r.length = uint32(n) // plain (see setSize): the commit CAS publishes it
	st := &r.state
	w := st.Load()
	if w&recStateMask != recClaimed || w&recOwnerMask != q.me {
		return fmt.Errorf("commit record at %d: state %#x: %w", p, w, ErrCorrupt)
	}
	if !st.CompareAndSwap(w, q.committedWord(p, w)) {
		return fmt.Errorf("commit record at %d: taken over: %w", p, ErrCorrupt)
	}
	q.notEmpty.Notify()
	return nil
}

// abort gives up a claimed record: it becomes free and is never delivered.
func (q *records) abort(p uint64) {
	st := q.state(p)
	w := st.Load()
	if w&recStateMask == recClaimed && st.CompareAndSwap(w, recFree|q.me) {
		q.gets.Add(1)
		q.notEmpty.Notify() // consumers waiting on the head may skip it now
	}
}
