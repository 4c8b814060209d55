package queue

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

// Config sizes a Queue (and each direction of a Pipe).
type Config struct {
	// Bytes is the ring's data capacity, rounded up to a power of two
	// between MinBytes and MaxBytes; 0 means 1 MiB. Each message
	// takes its length plus a 16-byte header, rounded up to 16.
	Bytes int
	// Items bounds how many messages may be queued at once, like Python's
	// maxsize; 0 means only Bytes limits it.
	Items int
	// MaxMessage is the largest message accepted. Messages up to half of
	// Bytes (less 16) travel inside the ring; larger ones in a spill region
	// of their own (see large.go). 0 means 1 GiB; a negative value allows
	// only messages that fit inside the ring. Larger messages fail with
	// ErrTooLarge before anything is written.
	MaxMessage int64
}

func (c Config) withDefaults() (Config, error) {
	if c.Bytes == 0 {
		c.Bytes = 1 << 20
	}
	if c.Items < 0 {
		return c, fmt.Errorf("queue of %d items: %w", c.Items, ErrCapacity)
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = 1 << 30
	}
	if c.MaxMessage > shm.MaxSize {
		return c, fmt.Errorf("message limit %d above shm.MaxSize: %w", c.MaxMessage, ErrCapacity)
	}
	return c, nil
}

// Queue is a multi-producer, multi-consumer queue of byte messages in
// shared memory: Python's multiprocessing.Queue without the feeder thread
// and the pipe. Messages of any length from 0 bytes travel; each arrives
// whole, once, and messages from one producer arrive in the order it put
// them (with one consumer, the whole queue is FIFO in claim order).
//
// A Queue is safe for concurrent use by any number of goroutines, and its
// ring by any number of processes, each with its own *Queue from
// Open(handle).
type Queue struct {
	_ recNoCopy
	q *records
}

type recNoCopy struct{}

func (*recNoCopy) Lock()   {}
func (*recNoCopy) Unlock() {}

// New allocates a queue in r.
func New(r *shm.Region, c Config) (*Queue, error) {
	q, err := newQueueRecords(r, c, 0, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	return &Queue{q: q}, nil
}

func newQueueRecords(r *shm.Region, c Config, flags, elem uint32, typ uint64) (*records, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	return newRecords(r, c.Bytes, c.Items, c.MaxMessage, flags, elem, typ)
}

// Open binds a queue made by New in this or another process (the
// region must be attached here, as spawn does for shared regions). The
// ring's header and cursors are checked: a corrupt ring is refused.
func Open(h shm.Handle) (*Queue, error) {
	q, err := openRecords(h)
	if err != nil {
		return nil, err
	}
	return &Queue{q: q}, nil
}

// Handle names the queue for Open in another process.
func (q *Queue) Handle() shm.Handle { return q.q.b.Handle() }

// Put appends msg, waiting for room until ctx is done. It fails with
// ErrClosed once the queue is closed, ErrTooLarge for a message over
// MaxMessage (nothing is written). When Put returns nil the message is in
// shared memory: the calling process may exit at once without losing it.
func (q *Queue) Put(ctx context.Context, msg []byte) error {
	return q.q.putBytes(ctx, msg, true)
}

// TryPut is Put that fails with ErrFull instead of waiting for room.
func (q *Queue) TryPut(msg []byte) error {
	return q.q.putBytes(nil, msg, false)
}

// Get removes the next message and returns a copy of it, waiting until ctx
// is done. Once the queue is closed and drained it fails with ErrClosed.
func (q *Queue) Get(ctx context.Context) ([]byte, error) {
	return q.q.getAppend(ctx, nil, true)
}

// AppendGet is Get that appends the message to dst (no allocation when dst
// has room).
func (q *Queue) AppendGet(ctx context.Context, dst []byte) ([]byte, error) {
	return q.q.getAppend(ctx, dst, true)
}

// TryGet is Get that fails with ErrEmpty instead of waiting.
func (q *Queue) TryGet() ([]byte, error) {
	return q.q.getAppend(nil, nil, false)
}

// Len reports how many messages are queued: put (or being put) and not yet
// taken. Unlike Python's qsize it is exact whenever no put or get is in
// progress.
func (q *Queue) Len() int { return q.q.len() }

// Cap returns the ring's data capacity in bytes.
func (q *Queue) Cap() int { return int(q.q.cap) }

// MaxItems returns the item limit (Config.Items), 0 for none.
func (q *Queue) MaxItems() int { return int(q.q.max) }

// MaxInline returns the largest message that travels inside the ring;
// larger ones go through a spill region.
func (q *Queue) MaxInline() int { return q.q.maxInline() }

// Close closes the queue for every process: puts fail with ErrClosed from
// now on, gets drain what is queued and then fail with ErrClosed. Waiters
// are woken. Closing twice returns ErrClosed. It does not unmap anything;
// the region's owner does that.
func (q *Queue) Close() error { return q.q.close() }

// Closed reports whether the queue was closed.
func (q *Queue) Closed() bool { return q.q.closed.Load() != 0 }

// Reserve claims room for a message of n bytes and returns it to be written
// in place (zero-copy), waiting for room until ctx is done. The message is
// delivered when Commit is called; until then, consumers wait at it, so
// commit promptly. A message over MaxInline is reserved in a spill region.
func (q *Queue) Reserve(ctx context.Context, n int) (Reservation, error) {
	return q.q.reserve(ctx, n, true)
}

// TryReserve is Reserve that fails with ErrFull instead of waiting.
func (q *Queue) TryReserve(n int) (Reservation, error) {
	return q.q.reserve(nil, n, false)
}

// Take removes the next message and returns it in place (zero-copy),
// waiting until ctx is done. Its bytes stay valid, and its room in the ring
// stays taken, until Release.
func (q *Queue) Take(ctx context.Context) (Message, error) {
	return q.q.takeMessage(ctx, true)
}

// TryTake is Take that fails with ErrEmpty instead of waiting.
func (q *Queue) TryTake() (Message, error) {
	return q.q.takeMessage(nil, false)
}

// Reservation is room claimed for one message (see Queue.Reserve). It is
// a small value; use it once.
type Reservation struct {
	q     *records
	pos   uint64
	buf   []byte
	spill *spillWriter
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
		putU64(r.q.data, int(r.pos&r.q.mask)+recHdr+8, uint64(n))
		return r.q.finishSpill(r.pos, r.spill)
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
	r.q.abort(r.pos)
}

// Message is a message read in place (see Queue.Take).
type Message struct {
	q     *records
	pos   uint64
	word  uint64
	buf   []byte
	spill *shm.Region
}

// Bytes returns the message's bytes, valid until Release.
func (m Message) Bytes() []byte { return m.buf }

// Release returns the message's room to the ring. Use the message once.
func (m Message) Release() {
	if m.spill != nil {
		m.spill.Close()
		return
	}
	if m.q != nil {
		m.q.release(m.pos, m.word)
	}
}

// ---- shared by Queue, Of, Joinable and Pipe ----

func (q *records) checkMsgLen(n int) error {
	if n < 0 {
		return fmt.Errorf("put %d bytes: %w", n, ErrTooLarge)
	}
	if n > q.maxInline() && uint64(n) > q.maxMsg {
		return fmt.Errorf("put %d bytes: limit %d (inline %d): %w", n, q.maxMsg, q.maxInline(), ErrTooLarge)
	}
	return nil
}

func (q *records) claimAny(ctx context.Context, n int, flags uint64, block bool) (uint64, error) {
	if block {
		return q.claim(ctx, n, flags)
	}
	p, err := q.tryClaim(nil, n, flags)
	if err == ErrFull {
		err = fmt.Errorf("put: %w", ErrFull)
	}
	return p, err
}

func (q *records) putBytes(ctx context.Context, msg []byte, block bool) error {
	if err := q.checkMsgLen(len(msg)); err != nil {
		return err
	}
	if len(msg) <= q.maxInline() {
		p, err := q.claimAny(ctx, len(msg), 0, block)
		if err != nil {
			return err
		}
		copy(q.data[p&q.mask+recHdr:], msg)
		return q.commit(p, len(msg))
	}
	p, err := q.claimAny(ctx, spillPayload, recFlagSpill, block)
	if err != nil {
		return err
	}
	w, err := q.startSpill(p, int64(len(msg)))
	if err != nil {
		return err
	}
	copy(w.buf, msg)
	return q.finishSpill(p, w)
}

func (q *records) reserve(ctx context.Context, n int, block bool) (Reservation, error) {
	if err := q.checkMsgLen(n); err != nil {
		return Reservation{}, err
	}
	if n <= q.maxInline() {
		p, err := q.claimAny(ctx, n, 0, block)
		if err != nil {
			return Reservation{}, err
		}
		off := p&q.mask + recHdr
		return Reservation{q: q, pos: p, buf: q.data[off : off+uint64(n) : off+uint64(n)]}, nil
	}
	p, err := q.claimAny(ctx, spillPayload, recFlagSpill, block)
	if err != nil {
		return Reservation{}, err
	}
	w, err := q.startSpill(p, int64(n))
	if err != nil {
		return Reservation{}, err
	}
	return Reservation{q: q, pos: p, buf: w.buf, spill: w}, nil
}

func (q *records) takeAny(ctx context.Context, block bool) (uint64, uint64, error) {
	if block {
		return q.take(ctx)
	}
	return q.pollTake()
}

// takeMessage takes a record and returns it in place. A spill record is
// released at once (its region carries the bytes).
func (q *records) takeMessage(ctx context.Context, block bool) (Message, error) {
	p, w, err := q.takeAny(ctx, block)
	if err != nil {
		return Message{}, err
	}
	if w&recFlagSpill != 0 {
		reg, buf, err := q.openSpill(p)
		q.release(p, w)
		if err != nil {
			return Message{}, err
		}
		return Message{buf: buf, spill: reg}, nil
	}
	s, err := q.span(p)
	if err != nil {
		return Message{}, fmt.Errorf("get: %w", err)
	}
	b, err := q.payload(p, s)
	if err != nil {
		q.release(p, w)
		return Message{}, fmt.Errorf("get: %w", err)
	}
	return Message{q: q, pos: p, word: w, buf: b}, nil
}

func (q *records) getAppend(ctx context.Context, dst []byte, block bool) ([]byte, error) {
	m, err := q.takeMessage(ctx, block)
	if err != nil {
		return dst, err
	}
	if dst == nil {
		dst = make([]byte, 0, len(m.buf))
	}
	dst = append(dst, m.buf...)
	m.Release()
	return dst, nil
}
