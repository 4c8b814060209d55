package queue

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// errNotReady: the record at the head is claimed but not yet committed.
var errNotReady = errors.New("record not committed yet")

// tryTake takes the record at the head, if one is committed. It returns its
// position and state word (now reading, owned by this process), ErrEmpty
// (nothing claimed), errNotReady (the head record is still being written)
// or ErrCorrupt.
//
// Several consumers race for the head: the winner is the one whose CAS of
// the record's state word from committed to reading succeeds; every
// consumer that sees a record at head already taken (reading, free) or
// padding helps move head past it with a CAS from exactly that head, so
// head never skips a record nobody took, and never moves backwards.
//
// The ABA case: a consumer that loaded head h and then the state at h can
// be descheduled after its re-check of head, while that record is taken,
// freed and its bytes reused by a later lap. When it runs again its CAS
// meets whatever bytes are now at offset h mod capacity: the header of a
// later record, or the middle of a later record's payload. Version 1 of
// the ring compared them with "committed by <owner>", which a later record
// of the same producer matched exactly (taken out of order), and which a
// payload could reproduce (a torn record: bytes from the middle of a
// message taken as a record). Now (takeCommitted):
//
//  1. The take CAS expects committedWord(h): state committed plus the tag
//     of position h. The only store of the library that writes it is the
//     commit of the record at position h itself; a record at any other
//     position p is committed with tag(p) != tag(h) (p and h are 16-aligned
//     and differ by less than 2^60), so no later header matches. Claimed,
//     reading, free and padding words differ in their state bits.
//  2. So a stale CAS can only succeed on payload bytes that reproduce
//     committedWord(h) (state, flags, 56-bit tag of a position of an earlier
//     lap, mixed with this ring's random salt) exactly at offset h mod
//     capacity.
//  3. Even then it is caught before anything is read: right after a
//     successful CAS the consumer loads freed. If its CAS hit the genuine
//     record at h, freed <= h: the record was committed up to the CAS and
//     reading by this process after it, and freed never passes a record
//     that is neither free nor padding (no recoverer frees a live reader's
//     record). If it hit bytes of a later lap, freed > h: bytes at offset
//     h mod capacity are rewritten for position h+k*capacity only once
//     freed > h (a producer writes below freed+capacity). freed only grows,
//     so the load, made after the CAS, tells the two apart exactly.
//  4. A stale CAS is undone (CAS back to the word it replaced; a failure
//     means the producer of that payload has rewritten those bytes since,
//     and its bytes stand) and the consumer starts over from head. Nothing
//     was read: a torn record is never delivered by the stale consumer.
//     What is left: for the nanoseconds between the CAS
//     and its undo, the 8 payload bytes read "reading", which a payload
//     that reproduced the tagged word of step 2 could expose to its own
//     consumer if this one were descheduled exactly there too.
func (q *records) tryTake() (uint64, uint64, error) {
	bound := q.stepBound()
	for step := 0; ; step++ {
		if step == bound {
			return 0, 0, fmt.Errorf("take: head %d: no record taken after %d steps: %w", q.head.Load(), bound, ErrCorrupt)
		}
		h := q.head.Load()
		t := q.tailCache.load()
		if h >= t || t-h > q.cap {
			t = q.tail.Load()
			q.tailCache.store(t)
		}
		if h == t {
			return 0, 0, ErrEmpty
		}
		if h > t || t-h > q.cap || h%recAlign != 0 {
			if q.head.Load() != h {
				continue // h was stale: tail moved a lap past it meanwhile
			}
			return 0, 0, fmt.Errorf("take: head %d tail %d: %w", h, t, ErrCorrupt)
		}
		st := q.state(h)
		w := st.Load()
		// head unchanged since before the load of w: the record at h was
		// not freed, so w is its genuine state word, not bytes of a later
		// record that reused the offset.
		if q.head.Load() != h {
			continue
		}
		switch w & recStateMask {
		case recClaimed:
			return h, w, errNotReady
		case recCommitted:
			if w != q.committedWord(h, w) {
				// w is the genuine word at h (head re-checked above).
				return 0, 0, fmt.Errorf("take: record at %d committed with tag %#x, want %#x: %w",
					h, w>>8, q.committedWord(h, w)>>8, ErrCorrupt)
			}
			if !q.takeCommitted(st, h, w) {
				if v := st.Load(); v&recStateMask == recReading && v&recOwnerMask == q.me {
					q.contended() // lost to a goroutine of this process
				}
				continue
			}
			q.gets.Add(1)
			if s, err := q.span(h); err == nil {
				q.head.CompareAndSwap(h, h+s)
			} else {
				// Leave the head where it is: the ring is corrupt and
				// every consumer will say so.
				return 0, 0, fmt.Errorf("take: %w", err)
			}
			return h, recReading | (w & recFlagSpill) | q.me, nil
		case recReading, recFree, recPad:
			s, err := q.span(h)
			if err != nil {
				if q.head.Load() != h {
					continue // the bytes were reused under us
				}
				return 0, 0, fmt.Errorf("take: %w", err)
			}
			q.head.CompareAndSwap(h, h+s)
		default:
			return 0, 0, fmt.Errorf("take: record at %d in state %#x: %w", h, w, ErrCorrupt)
		}
	}
}

// takeCommitted is the take CAS of the record at h, whose committed word w
// was loaded while head == h, with the stale-CAS check and undo of steps
// 3-4 of tryTake's ABA argument. It reports whether the record is now this
// process's.
func (q *records) takeCommitted(st *atomic.Uint64, h, w uint64) bool {
	mine := recReading | (w & recFlagSpill) | q.me
	if !st.CompareAndSwap(w, mine) {
		return false
	}
	if q.freed.Load() > h {
		// Step 4: the bytes belong to a later lap; put them back.
		st.CompareAndSwap(mine, w)
		return false
	}
	return true
}

// takeReady reports whether a take may succeed now (or must report closed
// or corrupt). A record claimed by a producer that has died is freed here
// (after recoverAfter, see stalled), so the consumers move on: it was never
// committed, so it is never delivered, torn or whole.
func (q *records) takeReady() bool {
	h, t := q.head.Load(), q.tail.Load()
	if h == t {
		return q.closed.Load() != 0
	}
	if h > t || t-h > q.cap || h%recAlign != 0 {
		return true // corrupt: a take reports it
	}
	w := q.state(h).Load()
	if w&recStateMask != recClaimed {
		return true
	}
	if q.stalled(h, w) && q.head.Load() == h && !ownerAlive(w) {
		if q.freeDead(h, w, func() bool { return q.head.Load() == h }) {
			q.unstall(h)
			q.gets.Add(1)
			if w&recFlagSpill != 0 {
				q.dropSpill(h)
			}
			q.notEmpty.Notify()
		}
		return true
	}
	return false
}

// take is tryTake that waits (spinning, then sleeping on notEmpty) until a
// record is committed, the ring is closed and drained (ErrClosed), or ctx
// is done. The goroutines of this process take turns in it once they were
// seen to contend (q.takers; before that they go straight in).
func (q *records) take(ctx context.Context) (uint64, uint64, error) {
	for !q.takers.on.Load() {
		p, w, err := q.takeTurn(ctx, false)
		if err != errGateOn {
			return p, w, err
		}
	}
	if err := q.takers.lock(ctx); err != nil {
		return 0, 0, fmt.Errorf("get: %w", err)
	}
	p, w, err := q.takeTurn(ctx, true)
	q.takers.unlock()
	return p, w, err
}

// errGateOn: the gate was turned on while this goroutine was taking
// without it; take sends it through the gate.
var errGateOn = errors.New("gate turned on")

// takeTurn is take's loop, run by the goroutine whose turn it is (gated),
// or by any while the gate is off.
func (q *records) takeTurn(ctx context.Context, gated bool) (uint64, uint64, error) {
	for {
		p, w, err := q.tryTake()
		if err == nil {
			return p, w, nil
		}
		if err != ErrEmpty && err != errNotReady {
			return 0, 0, err
		}
		if err == ErrEmpty && q.closed.Load() != 0 && q.head.Load() == q.tail.Load() {
			return 0, 0, fmt.Errorf("get: %w", ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("get: %w", err)
		}
		if gated {
			err = q.notEmpty.WaitFor(ctx, q.takeRecheck, q.takeReady)
		} else {
			err = q.waitUngated(ctx)
		}
		if err == errGateOn {
			return 0, 0, err
		}
		if err != nil {
			return 0, 0, fmt.Errorf("get: %w", err)
		}
	}
}

// waitUngated is take's wait on notEmpty while the gate is off. It counts
// the goroutines of this process in it, and turns the gate on when it
// finds another one there; a goroutine waiting here when the gate is
// turned on returns errGateOn (takeReadyOrGated; contended wakes it).
func (q *records) waitUngated(ctx context.Context) error {
	if q.takers.idle.Add(1) > 1 {
		q.contended()
	}
	err := q.notEmpty.WaitFor(ctx, q.takeRecheck, q.takeReadyOrGated)
	q.takers.idle.Add(-1)
	if err == nil && q.takers.on.Load() {
		err = errGateOn
	}
	return err
}

// takeReadyOrGated is takeReady for a waiter outside the gate: it also
// ends the wait when the gate is turned on.
func (q *records) takeReadyOrGated() bool { return q.takers.on.Load() || q.takeReady() }

// contended turns the gate on (two goroutines of this process were seen
// taking at once) and wakes the goroutines sleeping outside it, which
// then queue at it.
func (q *records) contended() {
	if !q.takers.on.Load() {
		q.takers.on.Store(true)
		q.notEmpty.Notify()
	}
}

// pollTake is tryTake for the non-blocking forms: it reports ErrEmpty for
// a head record still being written, after giving a dead writer's record
// the same recovery a blocking take would.
func (q *records) pollTake() (uint64, uint64, error) {
	p, w, err := q.tryTake()
	if err == errNotReady {
		if q.takeReady() {
			p, w, err = q.tryTake()
		}
		if err == errNotReady {
			err = ErrEmpty
		}
	}
	if err == ErrEmpty && q.closed.Load() != 0 && q.head.Load() == q.tail.Load() {
		return 0, 0, fmt.Errorf("get: %w", ErrClosed)
	}
	return p, w, err
}

// release frees a record this process took: its bytes may be reused once
// freed passes it. A state word that is no longer the one this process
// stored at its take is ErrCorrupt: no recoverer frees the record of a
// live reader, so only a write from outside the library changes it. The
// record is left as it is (whoever wrote there owns the consequences), and
// the caller's message bytes may be torn: the error says so.
func (q *records) release(p, w uint64) error {
	st := q.state(p)
	if !st.CompareAndSwap(w, recFree|q.me) {
		return fmt.Errorf("release record at %d: state %#x changed while this process read it: %w", p, st.Load(), ErrCorrupt)
	}
	// freed advances in batches: when a quarter of the ring waits behind
	// it, or a producer sleeps for room and an eighth of the ring would be
	// free. A producer short of room advances it itself (claimLocked,
	// roomFor), so nothing waits on a lagging freed; the consumers' stores
	// to its cache line (and the producers' misses on it) drop from one
	// per message to one per batch.
	//
	// Why not wake a sleeping producer at every release: with producers
	// faster than their consumer (several of them, or more processes than
	// cores) the ring is full, they sleep, and each release woke them all
	// for one record of room; they filled it and slept again, and the
	// consumer spent its time in futex calls and lost its core to them
	// (4 producers, 1 consumer, 64 B: 2.43M -> 4.20M msgs/s with the
	// eighth). Should the consumer stop before it hands the room back, a
	// producer asleep for room finds it on its own (roomRecheck).
	if p-q.freed.Load() >= q.cap/4 || (q.notFull.Sleepers() && q.roomAfter(p) >= q.cap/8) {
		q.advanceFreed()
	}
	return nil
}

// roomAfter is about the room producers would have once freed passed the
// record at p: the ring less what was claimed after it.
func (q *records) roomAfter(p uint64) uint64 {
	t := q.tail.Load()
	if t < p || t-p > q.cap {
		return q.cap // corrupt or stale: let advanceFreed sort it out
	}
	return q.cap - (t - p)
}

// advanceFreed moves freed past every free record and padding below head,
// then wakes producers waiting for room if it moved. It walks the records
// from freed and moves freed past all it found free with one CAS (one
// locked operation per batch, not one per record: a quarter of a default
// ring of 64-byte messages is 3,276 records).
//
// Why one CAS over a walk is safe: while freed is f0, no record at or
// above f0 is rewritten (a producer writes below freed+capacity only), so
// the free records the walk saw are still free when the CAS from exactly
// f0 succeeds; if freed moved meanwhile, the walk may have read reused
// bytes, and the CAS fails (freed only grows: no ABA). A failed CAS walks
// again from the new freed.
//
// Lost-advance argument: consumer A frees record X (store, then loads of
// freed and head) and advances; consumer B's walk stopped before X (not
// yet free). The atomics are sequentially consistent: A's walk starts from
// a freed loaded after its store, so it sees X free; if B's CAS lands
// first, A's fails and A walks again from B's freed, past X. freed never
// stops in front of a free record that a releaser asked to advance past.
func (q *records) advanceFreed() {
	moved := false
	for range advanceRetries {
		f0 := q.freed.Load()
		f := q.walkFree(f0)
		if f == f0 {
			break
		}
		if q.freed.CompareAndSwap(f0, f) {
			moved = true
			break
		}
	}
	if moved {
		q.notFull.Notify()
	}
}

// advanceRetries bounds advanceFreed's walks: a CAS lost that often means
// freed keeps being moved by others (who notify), or scribbled. Leaving it
// behind is harmless: producers short of room advance it themselves.
const advanceRetries = 64

// walkFree returns the position after the free records and padding from
// f on, below head (f itself when there are none, or corrupt bytes).
func (q *records) walkFree(f uint64) uint64 {
	h := q.head.Load()
	for range q.stepBound() {
		if f >= h || f%recAlign != 0 {
			break // nothing to free, or corrupt (producers report it)
		}
		w := q.state(f).Load()
		if s := w & recStateMask; s != recFree && s != recPad {
			break
		}
		s, err := q.span(f)
		if err != nil {
			break // corrupt; consumers and producers report it
		}
		f += s
	}
	return f
}
