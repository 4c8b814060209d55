package queue

// The record ring: the engine under Queue, Of, Joinable and Pipe. Its
// shared layout is in layout.go, its claim lock in claimlock.go, the
// producers' side in produce.go, the consumers' in consume.go, and crash
// recovery (owner words, stalls) in recovery.go.

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/internal/spin"
	"github.com/forkless-go/forkless/shm"
)

// Object kinds of the record rings and what is built on them (the message
// half of the package owns 0x0210-0x02ff).
const (
	KindRecords shm.Kind = 0x0210 // a ring of variable-length records: Queue, Of, Joinable, one direction of a Pipe
	KindSpill   shm.Kind = 0x0211 // the payload of one message too large for its ring, in a region of its own
)

// Record ring geometry limits.
const (
	// MinBytes and MaxBytes bound a record ring's data capacity.
	// Requests are rounded up to a power of two.
	MinBytes = 1 << 10
	MaxBytes = 1 << 31
)

// records is one process's view of a record ring. It is safe for use by
// any number of goroutines; the ring by any number of processes.
type records struct {
	b      shm.Block
	data   []byte
	cap    uint64
	mask   uint64
	max    uint64    // maxItems, 0 for none
	maxMsg uint64    // largest message, 0: inline only
	salt   uint64    // the ring's salt (56 bits), for committedWord
	area   *shm.Heap // the spill area (Config.Spill), or nil: spill files
	peer   peerWatch // a pipe end's watch of the process at the other end

	h    *ringHeader    // the shared header
	recs []recordHeader // the data area as record headers, one per recAlign bytes: rec(p)

	tail, puts, head, gets, freed *atomic.Uint64 // &h.tail, ...: the hot words
	tailW, putsW                  *uint64        // the same words as tail and puts, for mapped.StoreRelease
	closed                        *atomic.Uint32
	notEmpty, notFull             event.Count

	lock     owner.Lock  // the claim lock on h.lock
	lockSpin spin.Budget // its spin budget in this process
	me       uint64      // ownerWord(): this process in record state words

	// freedCache is a producer's last look at freed (a hint; never ahead
	// of the real value, since freed only grows).
	freedCache hint
	// tailCache is a consumer's last look at tail (a hint, never ahead of
	// the real value): while head is below it, the records up to it are
	// known to be claimed and tail need not be loaded (which would pull
	// the producers' cache line over).
	tailCache hint

	// takers: the gate this process's goroutines pass one at a time in
	// take, once they were seen to contend (see gate).
	takers gate

	// stalls remembers the record a waiter in this process
	// has seen stuck, and since when, for the liveness checks.
	stallMu sync.Mutex
	stalls  map[uint64]stall
}

// recGeometry rounds a requested capacity up to a power of two and checks it.
func recGeometry(capacity int) (uint64, error) {
	if capacity <= 0 {
		return 0, fmt.Errorf("queue of %d bytes: %w", capacity, ErrCapacity)
	}
	if capacity > MaxBytes {
		return 0, fmt.Errorf("queue of %d bytes, at most %d: %w", capacity, MaxBytes, ErrCapacity)
	}
	c := uint64(max(capacity, MinBytes))
	if c&(c-1) != 0 {
		c = 1 << bits.Len64(c)
	}
	return c, nil
}

// newRecords allocates and initializes a record ring in r.
func newRecords(r *shm.Region, capacity, maxItems int, maxMsg int64, flags, elem uint32, typ uint64) (*records, error) {
	c, err := recGeometry(capacity)
	if err != nil {
		return nil, err
	}
	if maxItems < 0 {
		return nil, fmt.Errorf("queue of at most %d items: %w", maxItems, ErrCapacity)
	}
	b, err := r.Alloc(shm.Layout{Kind: KindRecords, Size: int64(recDataOff + c), Elem: elem, Type: typ})
	if err != nil {
		return nil, fmt.Errorf("allocate queue: %w", err)
	}
	h, err := mapped.At[ringHeader](b.Bytes(), 0)
	if err != nil {
		return nil, fmt.Errorf("allocate queue: %w", err)
	}
	h.init(c, uint64(maxItems), uint64(max(maxMsg, 0)), flags, elem, typ, rand.Uint64()&recSaltMask)
	return recView(b)
}

// openRecords binds a handle to a record ring and validates its header and
// cursors: a corrupt ring is refused with ErrCorrupt before any record is
// read.
func openRecords(h shm.Handle) (*records, error) {
	if h.Kind != KindRecords {
		return nil, fmt.Errorf("open queue: handle names a %v: %w", h.Kind, shm.ErrKind)
	}
	b, err := shm.BindHandle(h, KindRecords)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return recView(b)
}

// recView lays the ring's structs over b after validating what another
// process could have written there (ringHeader.Validate).
func recView(b shm.Block) (*records, error) {
	mem := b.Bytes()
	if len(mem) < recDataOff+MinBytes {
		return nil, fmt.Errorf("open queue: block of %d bytes: %w", len(mem), ErrCorrupt)
	}
	h, err := mapped.At[ringHeader](mem, 0)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w (%w)", ErrCorrupt, err)
	}
	if err := h.Validate(len(mem)); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	c := h.capacity
	recs, err := mapped.Slice[recordHeader](mem, recDataOff, int(c/recAlign))
	if err != nil {
		return nil, fmt.Errorf("open queue: %w (%w)", ErrCorrupt, err)
	}
	me, err := ownerWord()
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	q := &records{
		b:        b,
		h:        h,
		recs:     recs,
		data:     mem[recDataOff : recDataOff+c : recDataOff+c],
		cap:      c,
		mask:     c - 1,
		max:      h.maxItems,
		maxMsg:   h.maxMessage,
		salt:     h.salt,
		tail:     &h.tail,
		puts:     &h.puts,
		head:     &h.head,
		gets:     &h.gets,
		freed:    &h.freed,
		tailW:    mapped.Must[uint64](mem, offTail),
		putsW:    mapped.Must[uint64](mem, offPuts),
		closed:   &h.closed,
		notEmpty: h.notEmpty.Count(),
		notFull:  h.notFull.Count(),
		me:       me,
		takers:   newGate(),
	}
	if q.lock, err = claimLockAt(mem, &q.lockSpin); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if err := q.openSpillArea(); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	q.freedCache.store(q.freed.Load())
	return q, nil
}

// rec returns the header of the record at position p. The index is masked
// into the data area and rounded down to a record boundary, so it never
// leaves the ring whatever p is; a p read from shared memory is checked for
// alignment where it is loaded (ErrCorrupt), so rounding never hides a
// corrupt cursor.
func (q *records) rec(p uint64) *recordHeader { return &q.recs[(p&q.mask)/recAlign] }

// state returns the state word of the record at position p.
func (q *records) state(p uint64) *atomic.Uint64 { return &q.rec(p).state }

// stateW is state as a *uint64, for mapped.StoreRelease.
func (q *records) stateW(p uint64) *uint64 {
	return mapped.Must[uint64](q.data, int(p&q.mask&^(recAlign-1)))
}

// span reads and validates the span of the record at p: a multiple of 16,
// at least a header, and not past the end of the data area. A bad span is
// ErrCorrupt; nothing is read outside the ring.
func (q *records) span(p uint64) (uint64, error) {
	off := p & q.mask
	s := uint64(q.rec(p).loadSpan())
	if s < recHdr || s%recAlign != 0 || s > q.cap-off {
		return 0, fmt.Errorf("record at %d spans %d bytes, %d left before the end: %w", p, s, q.cap-off, ErrCorrupt)
	}
	return s, nil
}

// payload returns the payload of the record at p, after checking its length
// against its span.
func (q *records) payload(p, span uint64) ([]byte, error) {
	off := p & q.mask
	n := uint64(q.rec(p).loadLength())
	if n > span-recHdr {
		return nil, fmt.Errorf("record at %d holds %d bytes in a %d-byte span: %w", p, n, span, ErrCorrupt)
	}
	return q.data[off+recHdr : off+recHdr+n : off+recHdr+n], nil
}

// recSpan is the span of a record holding n payload bytes.
func recSpan(n int) uint64 { return (uint64(n) + recHdr + recAlign - 1) &^ (recAlign - 1) }

// maxInline is the largest payload a record of this ring can carry: its
// span may be at most half the ring, so that a record that does not fit
// before the end (and pads it) always fits from the start.
func (q *records) maxInline() int { return int(q.cap/2 - recHdr) }

// len reports the records queued: claimed (being written or committed) and
// not yet taken.
func (q *records) len() int {
	g := q.gets.Load()
	p := q.puts.Load()
	if p < g {
		return 0
	}
	return int(p - g)
}

// close marks the ring closed: no put succeeds after it returns, and
// readers drain what is queued, then get ErrClosed. It takes the claim lock
// so that every put either claimed before (and its record is delivered) or
// sees closed.
func (q *records) close() error {
	if err := q.lockClaim(context.Background()); err != nil {
		return err
	}
	first := q.closed.Swap(1) == 0
	q.unlockClaim()
	q.notEmpty.Notify()
	q.notFull.Notify()
	if !first {
		return fmt.Errorf("close queue: %w", ErrClosed)
	}
	return nil
}
