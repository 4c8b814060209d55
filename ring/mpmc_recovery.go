package ring

import (
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
)

// Crash recovery of an MPMC ring: a position claimed by a process that died
// before publishing (or releasing) it would stall every consumer (or
// producer) behind it. Waiters that have seen the same position stuck for
// the stall timeout read the participant table and revoke (or recycle)
// positions that no live participant's recorded claim covers.

// slotStall remembers since when one position has held its side up.
type slotStall struct {
	pos   uint64
	since time.Time
	set   bool
}

// stalled reports whether pos has held this side up for longer than the
// stall timeout, starting the clock on first sight.
func (q *MPMC[T]) stalled(st *slotStall, due *atomic.Int64, pos uint64) bool {
	now := time.Now()
	if !st.set || st.pos != pos {
		*st = slotStall{pos: pos, since: now, set: true}
		due.Store(now.Add(time.Duration(q.stallTimeout.Load())).UnixNano())
		return false
	}
	return now.Sub(st.since) >= time.Duration(q.stallTimeout.Load())
}

// rearm restarts the stall clock (the claimer lives: look again later).
func (q *MPMC[T]) rearm(st *slotStall, due *atomic.Int64) {
	st.since = time.Now()
	due.Store(st.since.Add(time.Duration(q.stallTimeout.Load())).UnixNano())
}

// clearStall forgets a stall; it costs nothing when there was none.
func (q *MPMC[T]) clearStall(st *slotStall, due *atomic.Int64) {
	if st.set {
		st.set = false
		due.Store(0)
	}
}

// stallDue reports whether a stall check is due (for the wake-up
// conditions, which run without the mutex).
func stallDue(due *atomic.Int64) bool {
	at := due.Load()
	return at != 0 && time.Now().UnixNano() >= at
}

// liveParticipants returns, for each participant entry, whether a live
// process holds it.
func (q *MPMC[T]) liveParticipants() [maxParticipants]bool {
	var live [maxParticipants]bool
	for i := range q.l.parts {
		pt := &q.l.parts[i]
		if pid := pt.pid.Load(); pid != 0 {
			live[i] = proc.Alive(proc.ID{Pid: int32(pid), Start: pt.start.Load()})
		}
	}
	return live
}

// covered reports whether a live participant's recorded claim (push side
// when push, else pop side) covers pos, and returns the claims of dead
// participants that cover it.
func (q *MPMC[T]) covered(live *[maxParticipants]bool, pos uint64, push bool) (bool, [][2]uint64) {
	var dead [][2]uint64
	for i := range q.l.parts {
		pt := &q.l.parts[i]
		if pt.pid.Load() == 0 {
			continue
		}
		p, n := pt.popPos.Load(), pt.popN.Load()
		if push {
			p, n = pt.pushPos.Load(), pt.pushN.Load()
		}
		if p == slotNoPos || pos < p || pos-p >= n {
			continue
		}
		if live[i] {
			return true, nil
		}
		dead = append(dead, [2]uint64{p, n})
	}
	return false, dead
}

// checkProducerStall runs when the oldest position pos was claimed by a
// producer and not published. After the stall timeout, if no live
// participant's claim covers it, its producer died: revoke pos (and the
// rest of the dead claim) so consumers skip them.
//
// Why a live producer is never revoked: a producer records its claim
// (pushPos, pushN) before the CAS that makes it, and changes the record only
// after publishing. So while a position is claimed and unpublished, its
// claimer's record covers it; if the claimer lives, covered() says so. The
// revocation itself is a CAS from "free for pos" to "revoked", so it cannot
// overwrite a publication that lands meanwhile (only a dead process would
// publish late, and dead processes write nothing).
func (q *MPMC[T]) checkProducerStall(pos uint64) {
	if !q.stalled(&q.popStall, &q.popDue, pos) {
		return
	}
	live := q.liveParticipants()
	if ok, _ := q.covered(&live, pos, true); ok {
		q.rearm(&q.popStall, &q.popDue) // a live, slow producer: look again later
		return
	}
	revoked := false
	if q.seq(pos).CompareAndSwap(pos, (pos+1)|seqHole) {
		revoked = true
	}
	// The rest of the dead claim, position by position, with the same test.
	end := q.enq.Load()
	for x := pos + 1; x < end && x-pos < q.slots; x++ {
		if q.seq(x).Load() != x {
			continue
		}
		if ok, _ := q.covered(&live, x, true); ok {
			continue
		}
		if q.seq(x).CompareAndSwap(x, (x+1)|seqHole) {
			revoked = true
		}
	}
	q.clearStall(&q.popStall, &q.popDue)
	if revoked {
		q.notEmpty.Notify()
	}
}

// checkConsumerStall runs when a producer finds the slot of pos still
// holding position pos-slots (s is its seq). If a consumer claimed that
// position (deq is past it) and no live participant's pop claim covers it
// after the stall timeout, the consumer died while reading: recycle the
// slot (its item is lost, as documented).
func (q *MPMC[T]) checkConsumerStall(pos, s uint64) {
	prev := pos - q.slots
	if pos < q.slots || s&^seqHole != prev+1 || q.deq.Load() <= prev {
		q.clearStall(&q.pushStall, &q.pushDue)
		return // genuinely full: consumers have not reached it
	}
	if !q.stalled(&q.pushStall, &q.pushDue, pos) {
		return
	}
	live := q.liveParticipants()
	if ok, _ := q.covered(&live, prev, false); ok {
		q.rearm(&q.pushStall, &q.pushDue)
		return
	}
	recycled := false
	end := q.deq.Load()
	for x := prev; x < end && x-prev < q.slots; x++ {
		sx := q.seq(x).Load()
		if sx&^seqHole != x+1 {
			continue
		}
		if ok, _ := q.covered(&live, x, false); ok {
			continue
		}
		if q.seq(x).CompareAndSwap(sx, x+q.slots) {
			recycled = true
		}
	}
	q.clearStall(&q.pushStall, &q.pushDue)
	if recycled {
		q.notFull.Notify()
	}
}
