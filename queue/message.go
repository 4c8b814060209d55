package queue

import (
	"context"
	"fmt"
)

// Reservation is room claimed for one message (see Queue.Reserve). It is
// a small value; use it once.
type Reservation struct {
	q     *records
	pos   uint64
	buf   []byte
	spill *spillWriter
	area  bool // buf is a block of the spill area
}

// Bytes returns the reserved bytes, to be written in place.
func (r Reservation) Bytes() []byte { return r.buf }

// Commit delivers the first n bytes of the reservation as one message
// (0 <= n <= len(Bytes())).
func (r Reservation) Commit(n int) error {
	if r.q == nil {
		return fmt.Errorf("commit: empty reservation: %w", ErrClosed)
	}
	if n < 0 || n > len(r.buf) {
		return fmt.Errorf("commit %d of %d reserved bytes: %w", n, len(r.buf), ErrTooLarge)
	}
	if r.spill != nil {
		setSpillLength(r.q.data[r.pos&r.q.mask+recHdr:], uint64(n))
		return r.q.finishSpill(r.pos, r.spill)
	}
	if r.area {
		return r.q.commitArea(r.pos, n)
	}
	return r.q.commit(r.pos, n)
}

// Abort gives the reservation up; no message is delivered.
func (r Reservation) Abort() {
	if r.q == nil {
		return
	}
	if r.spill != nil {
		r.q.abortSpill(r.pos, r.spill)
		return
	}
	if r.area {
		r.q.dropArea(r.pos)
	}
	r.q.abort(r.pos)
}

// Message is a message read in place (see Queue.Take).
type Message struct {
	q    *records
	pos  uint64
	word uint64
	buf  []byte
	area bool // buf is a block of the spill area, freed at Release
}

// Bytes returns the message's bytes, valid until Release.
func (m Message) Bytes() []byte { return m.buf }

// Release returns the message's room to the ring. Use the message once.
// It fails with ErrCorrupt when the record's state word was changed from
// outside while this process held it: the bytes read may be torn.
func (m Message) Release() error {
	if m.q != nil {
		if m.area {
			m.q.dropArea(m.pos)
		}
		return m.q.release(m.pos, m.word)
	}
	return nil
}

// ---- the byte paths, shared by Queue, Of, Joinable and Pipe ----

func (q *records) checkMsgLen(n int) error {
	if n < 0 {
		return fmt.Errorf("put %d bytes: %w", n, ErrTooLarge)
	}
	if n > q.maxInline() && uint64(n) > q.maxMsg {
		return fmt.Errorf("put %d bytes: limit %d (inline %d): %w", n, q.maxMsg, q.maxInline(), ErrTooLarge)
	}
	return nil
}

// errPutFull is what a non-blocking put reports when there is no room.
var errPutFull = fmt.Errorf("put: %w", ErrFull)

// putsInLock reports whether a message of n bytes is put whole under the
// claim lock (putLocked): small enough, and inline.
func (q *records) putsInLock(n int) bool { return n <= commitInLock && n <= q.maxInline() }

// tryClaimPut is tryClaim with the put's error for "no room".
func (q *records) tryClaimPut(n int, flags uint64) (uint64, error) {
	p, err := q.tryClaim(n, flags)
	if err == ErrFull {
		err = errPutFull
	}
	return p, err
}

// putBytes puts msg, waiting for room until ctx is done.
func (q *records) putBytes(ctx context.Context, msg []byte) error {
	if err := q.checkMsgLen(len(msg)); err != nil {
		return err
	}
	if q.putsInLock(len(msg)) {
		return q.putSmall(ctx, msg)
	}
	if len(msg) <= q.maxInline() {
		p, err := q.claim(ctx, len(msg), 0)
		if err != nil {
			return err
		}
		return q.fill(p, msg)
	}
	if q.area != nil {
		return q.putArea(ctx, msg)
	}
	p, err := q.claim(ctx, spillPayload, recFlagSpill)
	if err != nil {
		return err
	}
	return q.fillSpill(p, msg)
}

// tryPutBytes is putBytes that fails with ErrFull instead of waiting.
func (q *records) tryPutBytes(msg []byte) error {
	if err := q.checkMsgLen(len(msg)); err != nil {
		return err
	}
	if q.putsInLock(len(msg)) {
		if !q.tryLockClaim() {
			return errPutFull
		}
		if err := q.putLocked(msg); err != ErrFull {
			return err
		}
		return errPutFull
	}
	if len(msg) <= q.maxInline() {
		p, err := q.tryClaimPut(len(msg), 0)
		if err != nil {
			return err
		}
		return q.fill(p, msg)
	}
	if q.area != nil {
		return q.tryPutArea(msg)
	}
	p, err := q.tryClaimPut(spillPayload, recFlagSpill)
	if err != nil {
		return err
	}
	return q.fillSpill(p, msg)
}

// fill copies msg into the record claimed at p and commits it.
func (q *records) fill(p uint64, msg []byte) error {
	copy(q.data[p&q.mask+recHdr:], msg)
	return q.commit(p, len(msg))
}

// fillSpill copies msg into a spill region for the record claimed at p and
// commits it.
func (q *records) fillSpill(p uint64, msg []byte) error {
	w, err := q.startSpill(p, int64(len(msg)))
	if err != nil {
		return err
	}
	copy(w.buf, msg)
	return q.finishSpill(p, w)
}

// reserve claims room for n bytes, waiting until ctx is done.
func (q *records) reserve(ctx context.Context, n int) (Reservation, error) {
	if err := q.checkMsgLen(n); err != nil {
		return Reservation{}, err
	}
	if n <= q.maxInline() {
		p, err := q.claim(ctx, n, 0)
		if err != nil {
			return Reservation{}, err
		}
		return q.inlineReservation(p, n), nil
	}
	if q.area != nil {
		off, b, err := q.allocArea(ctx, n)
		if err != nil {
			return Reservation{}, err
		}
		p, err := q.claim(ctx, spillRefLen, recFlagSpill)
		return q.areaReservation(off, b, p, err)
	}
	p, err := q.claim(ctx, spillPayload, recFlagSpill)
	if err != nil {
		return Reservation{}, err
	}
	return q.spillReservation(p, n)
}

// tryReserve is reserve that fails with ErrFull instead of waiting.
func (q *records) tryReserve(n int) (Reservation, error) {
	if err := q.checkMsgLen(n); err != nil {
		return Reservation{}, err
	}
	if n <= q.maxInline() {
		p, err := q.tryClaimPut(n, 0)
		if err != nil {
			return Reservation{}, err
		}
		return q.inlineReservation(p, n), nil
	}
	if q.area != nil {
		off, b, err := q.tryAllocArea(n)
		if err != nil {
			return Reservation{}, err
		}
		p, err := q.tryClaimPut(spillRefLen, recFlagSpill)
		return q.areaReservation(off, b, p, err)
	}
	p, err := q.tryClaimPut(spillPayload, recFlagSpill)
	if err != nil {
		return Reservation{}, err
	}
	return q.spillReservation(p, n)
}

func (q *records) inlineReservation(p uint64, n int) Reservation {
	off := p&q.mask + recHdr
	return Reservation{q: q, pos: p, buf: q.data[off : off+uint64(n) : off+uint64(n)]}
}

func (q *records) spillReservation(p uint64, n int) (Reservation, error) {
	w, err := q.startSpill(p, int64(n))
	if err != nil {
		return Reservation{}, err
	}
	return Reservation{q: q, pos: p, buf: w.buf, spill: w}, nil
}

// takeMessage takes a record, waiting until ctx is done, and returns it in
// place.
func (q *records) takeMessage(ctx context.Context) (Message, error) {
	p, w, err := q.take(ctx)
	if err != nil {
		return Message{}, err
	}
	return q.message(p, w)
}

// tryTakeMessage is takeMessage that fails with ErrEmpty instead of
// waiting.
func (q *records) tryTakeMessage() (Message, error) {
	p, w, err := q.pollTake()
	if err != nil {
		return Message{}, err
	}
	return q.message(p, w)
}

// message returns the record this process took at p (state word w) in
// place. A spill record is released at once (its region carries the
// bytes).
func (q *records) message(p, w uint64) (Message, error) {
	if w&recFlagSpill != 0 && q.area != nil {
		return q.areaMessage(p, w)
	}
	if w&recFlagSpill != 0 {
		buf, err := q.readSpill(p)
		if rerr := q.release(p, w); rerr != nil && err == nil {
			err = fmt.Errorf("get: %w", rerr)
		}
		if err != nil {
			return Message{}, err
		}
		return Message{buf: buf}, nil
	}
	s, err := q.span(p)
	if err != nil {
		return Message{}, fmt.Errorf("get: %w", err)
	}
	b, err := q.payload(p, s)
	if err != nil {
		q.release(p, w) //nolint:errcheck // the payload's error says it already
		return Message{}, fmt.Errorf("get: %w", err)
	}
	return Message{q: q, pos: p, word: w, buf: b}, nil
}

// getAppend takes a message, waiting until ctx is done, and appends a copy
// of it to dst.
func (q *records) getAppend(ctx context.Context, dst []byte) ([]byte, error) {
	m, err := q.takeMessage(ctx)
	return appendMessage(dst, m, err)
}

// tryGetAppend is getAppend that fails with ErrEmpty instead of waiting.
func (q *records) tryGetAppend(dst []byte) ([]byte, error) {
	m, err := q.tryTakeMessage()
	return appendMessage(dst, m, err)
}

func appendMessage(dst []byte, m Message, err error) ([]byte, error) {
	if err != nil {
		return dst, err
	}
	if dst == nil {
		dst = make([]byte, 0, len(m.buf))
	}
	n := len(dst)
	dst = append(dst, m.buf...)
	if err := m.Release(); err != nil {
		return dst[:n], fmt.Errorf("get: %w", err)
	}
	return dst, nil
}
