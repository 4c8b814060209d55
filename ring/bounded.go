package ring

import (
	"context"
	"fmt"
	"time"
)

// Every loop over shared words is bounded: another process can write
// anything into the ring, and a word that never takes the value a loop
// waits for must not hold this process in it. Two defences, each at the
// word where the assumption is made:
//
//   - A value that no schedule of correct processes can produce is
//     ErrCorrupt at once: pushSeq and popSeq list the sequence values a
//     slot can hold relative to the cursor that was just loaded, and SPSC
//     checks its two indexes against the capacity.
//   - A lock-free retry loop (a lost CAS, a cursor that moved under us)
//     retries only while others make progress; after maxSlotRetries in one
//     call it gives up as if the ring were full (empty). The blocking forms
//     then nap for busyNap, watching their context, and try again; the
//     non-blocking ones report ErrFull (ErrEmpty).

const (
	// maxSlotRetries bounds the retries of one MPMC put or get. Each retry
	// means another participant claimed the position first; 1024 in a row
	// do not happen without a word changing under us on every look.
	maxSlotRetries = 1024
	// busyNap is how long a blocking put or get pauses after running out of
	// retries, before it looks again (its context is watched meanwhile).
	busyNap = time.Millisecond
)

// errSlotPushBusy and errSlotPopBusy: the retries ran out (see above).
// They wrap ErrFull and ErrEmpty, which is what the non-blocking forms
// report.
var (
	errSlotPushBusy = fmt.Errorf("push: %w (no progress after %d retries)", ErrFull, maxSlotRetries)
	errSlotPopBusy  = fmt.Errorf("pop: %w (no progress after %d retries)", ErrEmpty, maxSlotRetries)
)

// nap pauses for busyNap or until ctx is done (its error).
func nap(ctx context.Context) error {
	t := time.NewTimer(busyNap)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pushSeq classifies the sequence word s of the slot of position pos, for
// a producer that loaded enq == pos and found the slot not free. Over its
// life the slot of pos holds, in this order: pos-slots (free for, then
// claimed by, the producer of pos-slots), pos-slots+1 (that item, or its
// revocation with seqHole), pos (free for pos), and then only larger
// values. So:
//
//   - pos-slots, pos-slots+1 (with or without seqHole): the ring is full
//     (true), unless enq moved meanwhile (false: look again);
//   - above pos: the producer of pos claimed it, so enq has moved past pos;
//     if it has not, the word is corrupt;
//   - pos itself: freed since we looked (false: look again);
//   - anything else: ErrCorrupt.
func (q *MPMC[T]) pushSeq(pos, s uint64) (full bool, err error) {
	v := s &^ seqHole
	switch {
	case s == pos:
		return false, nil
	case int64(v-pos) > 0:
		if q.enq.Load() == pos {
			return false, q.corrupt("push", pos, s)
		}
		return false, nil
	case v == pos-q.slots+1 || s == pos-q.slots:
		return q.enq.Load() == pos, nil
	}
	return false, q.corrupt("push", pos, s)
}

// popSeq classifies the sequence word s of the slot of position pos, for a
// consumer that loaded deq == pos and found no item there (see pushSeq for
// the order of the values):
//
//   - pos (free for, or claimed by, the producer of pos) and pos-slots+1
//     (the previous lap's item, still being read by a slow consumer): empty
//     for now (true), unless deq moved meanwhile (false);
//   - above pos+1: a consumer took pos, so deq has moved past it; if it
//     has not, the word is corrupt;
//   - pos+1: published since we looked (false: look again);
//   - anything else: ErrCorrupt.
func (q *MPMC[T]) popSeq(pos, s uint64) (empty bool, err error) {
	v := s &^ seqHole
	switch {
	case v == pos+1:
		return false, nil
	case int64(v-(pos+1)) > 0:
		if q.deq.Load() == pos {
			return false, q.corrupt("pop", pos, s)
		}
		return false, nil
	case s == pos || v == pos-q.slots+1:
		return q.deq.Load() == pos, nil
	}
	return false, q.corrupt("pop", pos, s)
}

func (q *MPMC[T]) corrupt(op string, pos, s uint64) error {
	return fmt.Errorf("%s: slot of position %d holds sequence %#x (%d slots): %w", op, pos, s, q.slots, ErrCorrupt)
}
