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
	// Bytes (less 16) travel inside the ring; larger ones in the spill
	// area (see Spill). 0 means the default: a quarter of the default
	// spill area (see Spill; MaxMessage reports it), Spill/8 with an
	// explicit area, 1 GiB with spill files; a
	// negative value allows only messages that fit inside the ring. Larger
	// messages fail with ErrTooLarge before anything is written.
	MaxMessage int64
	// Spill sizes the spill area: a shm.Heap in the queue's region, beside
	// its ring, where messages larger than the inline limit travel. They
	// live exactly as long as the ring (no file under /dev/shm, nothing
	// left by any exit or kill) and nobody can truncate them under a
	// reader (an anonymous region is sealed). Every spilled message takes
	// a block of MaxMessage bytes (rounded up to a heap size class, at most
	// 25% more), so the area holds about Spill/MaxMessage of them at once;
	// a put waits while it is full (TryPut: ErrFull). An anonymous
	// region's pages cost memory only once touched.
	//
	// 0 (the default) sizes the area at 16 times the ring or 4 MiB,
	// whichever is larger (at least 8 x an explicit MaxMessage), but at
	// most a quarter of the room left in the region after the ring; the
	// default MaxMessage is a quarter of it (inline-only messages when
	// that is not above the inline limit): the default 1 MiB ring in a
	// region with 128 MiB free takes a 16 MiB area and carries messages of
	// up to 4 MiB, three at a time. An explicit MaxMessage the area
	// cannot hold twice is an error (shm.ErrNoSpace). Above 0: an area of
	// exactly that many bytes, where MaxMessage defaults to Spill/8 and is
	// at most Spill/2. Below 0: no
	// area; larger messages travel in /dev/shm files of their own, which
	// the consumer unlinks, but which an abandoned ring leaves behind
	// (docs/reliability.md).
	Spill int64
}

func (c Config) withDefaults() (Config, error) {
	if c.Bytes == 0 {
		c.Bytes = 1 << 20
	}
	if c.Items < 0 {
		return c, fmt.Errorf("queue of %d items: %w", c.Items, ErrCapacity)
	}
	if c.MaxMessage > shm.MaxSize {
		return c, fmt.Errorf("message limit %d above shm.MaxSize: %w", c.MaxMessage, ErrCapacity)
	}
	if c.Spill > shm.MaxSize {
		return c, fmt.Errorf("spill area of %d bytes: %w", c.Spill, ErrCapacity)
	}
	switch {
	case c.Spill < 0 && c.MaxMessage == 0:
		c.MaxMessage = 1 << 30
	case c.Spill > 0 && c.MaxMessage == 0:
		c.MaxMessage = c.Spill / 8
	}
	if c.Spill > 0 && c.MaxMessage > c.Spill/2 {
		c.MaxMessage = c.Spill / 2
	}
	return c, nil
}

// defaultSpill sizes the default spill area (Config.Spill 0) of a ring of
// capacity bytes about to be allocated in r: it returns the area's size
// and the message limit, (0, -1) for inline-only messages.
func defaultSpill(r *shm.Region, capacity uint64, maxMsg int64) (int64, int64, error) {
	if maxMsg < 0 {
		return 0, -1, nil
	}
	st, err := r.Stats()
	if err != nil {
		return 0, 0, err
	}
	// The room left once the ring is in, less its object header and
	// alignment; the area takes at most a quarter of it, so that the
	// region keeps room for the caller's other objects.
	room := (st.Free - int64(recDataOff+capacity) - 2*shm.ObjectHeaderSize) / 4 &^ (shm.Align - 1)
	want := max(defaultSpillRings*int64(capacity), defaultSpillMin)
	mm, inline := maxMsg, int64(capacity/2-recHdr)
	if mm == 0 {
		mm = min(want, room) / 4
		if mm <= inline {
			return 0, -1, nil
		}
	}
	if mm <= inline {
		return 0, mm, nil // nothing ever spills
	}
	area := min(max(want, 8*mm), room) // an explicit mm: ~6 blocks (classes round up to 25%)
	if area < 2*mm+mm/2+spillAreaSlack {
		return 0, 0, fmt.Errorf("spill area for messages of %d bytes: %d bytes left in the region: %w", mm, max(room, 0), shm.ErrNoSpace)
	}
	return area, mm, nil
}

// The default spill area is defaultSpillRings times the ring, and at
// least defaultSpillMin in a region with room for it (small rings still
// carry messages of a MiB).
const (
	defaultSpillRings = 16
	defaultSpillMin   = 4 << 20
)

// spillAreaSlack is the heap's own room beside its blocks (its header and
// block headers), rounded up.
const spillAreaSlack = 4096

// Queue is a multi-producer, multi-consumer queue of byte messages in
// shared memory: Python's multiprocessing.Queue without the feeder thread
// and the pipe. Messages of any length from 0 bytes travel; each arrives
// whole, once, and messages from one producer arrive in the order it put
// them (with one consumer, the whole queue is FIFO in claim order).
//
// A Queue is safe for concurrent use by any number of goroutines, and its
// ring by any number of processes, each with its own *Queue from
// Open(handle). Goroutines of one process blocked in Get (or Take) on one
// *Queue take turns once they are seen to contend: one waits on the ring,
// the others in the Go scheduler, so they cost the machine one waiter, not
// one spinning thread each. Which of them gets the next message is not
// specified.
type Queue struct {
	_ recNoCopy
	q *records
}

type recNoCopy struct{}

func (*recNoCopy) Lock()   {}
func (*recNoCopy) Unlock() {}

// New allocates a queue in r; a nil r gives the queue a region of its own
// (see Queue.Region).
func New(r *shm.Region, c Config) (*Queue, error) {
	r, undo, err := ownRegion(r, c)
	if err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	q, err := newQueueRecords(r, c, 0, 0, 0)
	if err != nil {
		undo()
		return nil, fmt.Errorf("new queue: %w", err)
	}
	return &Queue{q: q}, nil
}

func newQueueRecords(r *shm.Region, c Config, flags, elem uint32, typ uint64) (*records, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.Spill == 0 {
		capacity, err := recGeometry(c.Bytes)
		if err != nil {
			return nil, err
		}
		if c.Spill, c.MaxMessage, err = defaultSpill(r, capacity, c.MaxMessage); err != nil {
			return nil, err
		}
	}
	q, err := newRecords(r, c.Bytes, c.Items, c.MaxMessage, flags, elem, typ)
	if err != nil || c.Spill <= 0 {
		return q, err
	}
	if err := q.newSpillArea(r, c.Spill); err != nil {
		return nil, err
	}
	return q, nil
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
//
// A Put waiting for room on a full ring sleeps until consumers have freed
// an eighth of it (one wake-up per batch of messages, not per message);
// should they stop taking before that, it finds the room on its own, after
// about as long again as it had waited, and within a second.
func (q *Queue) Put(ctx context.Context, msg []byte) error {
	return q.q.putBytes(ctx, msg)
}

// TryPut is Put that fails with ErrFull instead of waiting for room.
func (q *Queue) TryPut(msg []byte) error {
	return q.q.tryPutBytes(msg)
}

// Get removes the next message and returns a copy of it, waiting until ctx
// is done. Once the queue is closed and drained it fails with ErrClosed.
func (q *Queue) Get(ctx context.Context) ([]byte, error) {
	return q.q.getAppend(ctx, nil)
}

// AppendGet is Get that appends the message to dst (no allocation when dst
// has room).
func (q *Queue) AppendGet(ctx context.Context, dst []byte) ([]byte, error) {
	return q.q.getAppend(ctx, dst)
}

// TryGet is Get that fails with ErrEmpty instead of waiting.
func (q *Queue) TryGet() ([]byte, error) {
	return q.q.tryGetAppend(nil)
}

// Len reports how many messages are queued: put (or being put) and not yet
// taken. Unlike Python's qsize it is exact whenever no put or get is in
// progress.
func (q *Queue) Len() int { return q.q.len() }

// MaxMessage returns the largest message accepted (Config.MaxMessage,
// after defaults); messages up to MaxInline travel inside the ring.
func (q *Queue) MaxMessage() int { return int(max(q.q.maxMsg, uint64(q.q.maxInline()))) }

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
	return q.q.reserve(ctx, n)
}

// TryReserve is Reserve that fails with ErrFull instead of waiting.
func (q *Queue) TryReserve(n int) (Reservation, error) {
	return q.q.tryReserve(n)
}

// Take removes the next message and returns it in place (zero-copy),
// waiting until ctx is done. Its bytes stay valid, and its room in the ring
// stays taken, until Release.
func (q *Queue) Take(ctx context.Context) (Message, error) {
	return q.q.takeMessage(ctx)
}

// TryTake is Take that fails with ErrEmpty instead of waiting.
func (q *Queue) TryTake() (Message, error) {
	return q.q.tryTakeMessage()
}
