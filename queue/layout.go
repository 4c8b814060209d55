package queue

import (
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/shm"
)

// A record ring is one shm.Block of kind KindRecords: a ringHeader, then
// the data area of capacity bytes, holding records. Every process maps the
// same bytes through these structs; the offsets are pinned below, so a
// change that would move a field fails to compile. Each group of words one
// side writes sits on a cache line of its own.
//
// Positions (head, tail, freed) are byte counts since the ring was made;
// they only grow (2^64 bytes never wrap in practice) and a position p lives
// at data[p mod capacity]. Always freed <= head <= tail <= freed+capacity,
// and all three are multiples of recAlign.
type ringHeader struct {
	// magic: the creator, last (atomic store: the hand-off of the
	// constant fields below); openers load it first, want recMagic.
	magic atomic.Uint32
	// version: the creator; openers want recVersion.
	version uint32
	// capacity: the creator; everyone: data bytes, a power of two.
	capacity uint64
	// maxItems: the creator; producers: most records queued (0: no limit).
	maxItems uint64
	// flags: the creator; openers: recFlagJoinable.
	flags uint32
	// elem: the creator; OpenOf: the fixed size of T, or 0.
	elem uint32
	// typ: the creator; OpenOf: the fingerprint of T and codec, or 0.
	typ uint64
	// maxMessage: the creator; producers: largest message (spilled above
	// the inline limit), 0: inline only.
	maxMessage uint64
	// salt: the creator (random, 56 bits); everyone: mixed into committed
	// state words (position tags, see committedWord).
	salt uint64
	_    [8]byte

	// lock: the producers' claim lock, an owner word (see claimlock.go).
	// Taking it (CAS) hands the holder tail, puts and the headers written
	// under the previous holding; releasing it hands them on.
	lock atomic.Uint64
	// tail: the lock holder (store, release order: mapped.StoreRelease); consumers:
	// end of the claimed records. The store publishes the claimed record's
	// header (claimed state, span) to consumers.
	tail atomic.Uint64
	// puts: the lock holder (store); Len and producers (maxItems): records
	// ever claimed.
	puts atomic.Uint64
	_    [40]byte

	// head: consumers (CAS from exactly the head they loaded, to the next
	// record); consumers: the first record not yet taken.
	head atomic.Uint64
	// gets: consumers and recoverers (add); Len, producers (maxItems).
	gets atomic.Uint64
	_    [48]byte

	// freed: consumers (in batches: once a quarter of the ring is free
	// behind it, or a producer sleeps for room), producers short of room,
	// and recoverers (CAS past free records and padding); producers: bytes
	// before it may be reused. The CAS hands the bytes back to producers.
	freed atomic.Uint64
	_     [56]byte

	// closed: Close (store 1, under the claim lock); everyone. Every put
	// either claimed before it (and is delivered) or sees it.
	closed atomic.Uint32
	_      [4]byte
	// spillArea: the creator, before the ring's handle leaves it; openers
	// (OpenHeap checks it against the object it names): the handle of the
	// ring's spill heap, in the ring's region (see spillarea.go), or zero.
	spillArea shm.Handle
	_         [16]byte

	// notEmpty: consumers sleep on it, producers notify after a commit.
	notEmpty event.Words
	_        [56]byte
	// notFull: producers sleep on it, consumers notify when freed moves.
	notFull event.Words
	_       [56]byte

	// unfinished: Joinable's Put (+1, before the put) and TaskDone (CAS
	// -1); Join waits for 0.
	unfinished atomic.Uint64
	// joined: Join sleeps on it; the TaskDone that reaches 0 notifies.
	joined event.Words
	// writer, reader: a Pipe end's owner word (pid and start time, a plain
	// store by the last opener of that end); the peer's Recv (writer) and
	// Send (reader) read it to tell whether the other end's process died.
	writer atomic.Uint64
	reader atomic.Uint64
	_      [32]byte
}

// recordHeader starts every record; the payload follows it, padded to a
// multiple of recAlign.
type recordHeader struct {
	// state: the record's state word (see the state machine below); every
	// change is a store or CAS by its owner or a recoverer. The word that
	// makes it committed hands the payload (plain stores before it) to the
	// consumer that takes the record (an acquire, its take CAS): the commit
	// CAS of a claimed record, or, for a message of up to commitInLock
	// bytes, a store under the claim lock before the tail store that
	// publishes the record (mapped.StoreRelease: release order, a plain MOV on amd64's
	// TSO; an atomic store elsewhere).
	state atomic.Uint64
	// span: the producer, under the claim lock, before the tail store that
	// publishes the record; consumers and freed-advancers: bytes to the
	// next record (validated at each use: see records.span). Read with
	// atomic.LoadUint32: a consumer's check "head moved, so a bad span is
	// a reused record, not corruption" (tryTake) needs the span load
	// ordered before its head load, which on arm64 only an acquire load
	// is. Written with a plain store (setSize), the one exception to this
	// layout's atomic fields: the tail store publishes it, and an atomic
	// store here (an XCHG on amd64) cost a Pipe round trip 1.5 -> 2.4 µs.
	span uint32
	// length: the producer, at claim and again at commit (<= the claimed
	// length); the consumer: payload bytes (<= span-recHdr, validated at
	// use). Loaded and stored like span; the commit CAS publishes it.
	length uint32
}

// setSize stores a record's span and length under the claim lock, before
// the tail store that publishes them. Plain stores on purpose (see span):
// two atomic stores per claim, there being nothing for them to order that
// the state and tail stores after them do not, measured +0.9 µs per Pipe
// round trip on amd64 (docs/bench/queue.md); so did "load, store only if
// different" (a023aa3), which stores almost every time anyway: records
// do not fall on the same offsets lap after lap.
func (r *recordHeader) setSize(span, length uint32) {
	r.span, r.length = span, length
}

// loadSpan and loadLength are the consumers' loads of span and length:
// acquire loads (see span), a plain MOV on amd64.
func (r *recordHeader) loadSpan() uint32   { return atomic.LoadUint32(&r.span) }
func (r *recordHeader) loadLength() uint32 { return atomic.LoadUint32(&r.length) }

// Offsets of the words producers publish with mapped.StoreRelease (plain stores on
// amd64), reached as *uint64 through internal/mapped.
const (
	offPuts = int(unsafe.Offsetof(ringHeader{}.puts))
	offTail = int(unsafe.Offsetof(ringHeader{}.tail))
)

// The offsets other processes rely on.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.version)-4]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.capacity)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.maxItems)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.flags)-24]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.elem)-28]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.typ)-32]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.maxMessage)-40]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.salt)-48]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.lock)-64]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.tail)-72]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.puts)-80]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.head)-128]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.gets)-136]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.freed)-192]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.closed)-256]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.spillArea)-264]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.notEmpty)-320]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.notFull)-384]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.unfinished)-448]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.joined)-456]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.writer)-464]
	_ = [1]struct{}{}[unsafe.Offsetof(ringHeader{}.reader)-472]
	_ = [1]struct{}{}[unsafe.Sizeof(ringHeader{})-recDataOff]

	_ = [1]struct{}{}[unsafe.Offsetof(recordHeader{}.span)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(recordHeader{}.length)-12]
	_ = [1]struct{}{}[unsafe.Sizeof(recordHeader{})-recHdr]
)

// The record state word. In every state but committed it is an "owner
// word":
//
//	bits  0-3  state: recClaimed, recReading, recFree, recPad
//	bits  4-7  flags: recFlagSpill (the payload names a spill region)
//	bits  8-31 pid of the process that owns the record now (pids < 2^22 on Linux)
//	bits 32-63 low 32 bits of that process's start time
//
// so that one atomic load tells both what the record is and who to blame if
// it stays that way: a pid alone could be reused, pid plus start time cannot.
// A committed record has no owner (nobody is responsible for it until a
// consumer takes it), and its word carries the record's position instead:
//
//	bits  0-3  state: recCommitted
//	bits  4-7  flags: recFlagSpill
//	bits  8-63 position tag: (p/16 XOR salt) mod 2^56, p the record's position
//
// so the consumers' take CAS, from exactly that word, can only succeed on
// the record at p (see tryTake: the ABA argument). The states:
//
//	claimed --commit--> committed --take--> reading --release--> free
//	   |                                       |
//	   +--owner died (a consumer)--> free      +--owner died (a producer waiting for room)--> free
//	pad: written as padding by the producer that wraps
const (
	recMagic = 0x43455246 // "FREC" little-endian
	// recVersion 3: the header names a spill area at 264 (2: committed
	// state words carry a position tag, the header a salt at 48; 1: the
	// committer's owner bits).
	recVersion = 3

	recDataOff = 512 // the data area, after the ringHeader
	// recHdr is the size of a record header; records start at multiples of
	// recAlign, so the bytes left before the end of the ring are always a
	// multiple of recAlign and a padding record's header always fits.
	recHdr   = 16
	recAlign = 16

	recFlagJoinable = 1 << 0 // ringHeader.flags: made by NewJoinable

	recClaimed   = 1 // a producer is writing the payload
	recCommitted = 2 // complete, waiting for a consumer
	recReading   = 3 // a consumer has taken it and is reading the payload
	recFree      = 4 // done with (read, aborted or abandoned): its bytes may be reused
	recPad       = 5 // padding up to the end of the data area; never delivered

	recStateMask = 0x0f
	recFlagSpill = 0x10
	recOwnerMask = ^uint64(0xff)
	recSaltMask  = 1<<56 - 1
)

// committedWord is the state word of the record at position p once
// committed: the state, the flags, and p's tag. Two positions less than
// 2^60 bytes apart have different tags, so no record of another lap (and
// no record of another ring, whose salt differs) is committed with the
// same word at the same offset.
func (q *records) committedWord(p, flags uint64) uint64 {
	return recCommitted | flags&recFlagSpill | (p>>4^q.salt)<<8
}

// init fills a fresh header and publishes it by storing the magic.
func (h *ringHeader) init(capacity, maxItems, maxMsg uint64, flags, elem uint32, typ, salt uint64) {
	h.capacity = capacity
	h.maxItems = maxItems
	h.maxMessage = maxMsg
	h.flags = flags
	h.elem = elem
	h.typ = typ
	h.salt = salt
	h.version = recVersion
	// Publish: an opener that loads the magic sees the fields above.
	h.magic.Store(recMagic)
}

// Validate checks what another process could have scribbled in a ring's
// header, in a block of blockLen bytes: the magic, version, geometry,
// limits, salt and cursors. A ring it accepts can be read without reading
// outside the block; the records' own words are checked where they are
// used.
func (h *ringHeader) Validate(blockLen int) error {
	if m := h.magic.Load(); m != recMagic {
		return fmt.Errorf("magic %#x: %w", m, ErrCorrupt)
	}
	if h.version != recVersion {
		return fmt.Errorf("layout version %d, want %d: %w", h.version, recVersion, ErrCorrupt)
	}
	c := h.capacity
	if c < MinBytes || c > MaxBytes || c&(c-1) != 0 {
		return fmt.Errorf("capacity %d: %w", int64(c), ErrCapacity)
	}
	if uint64(blockLen) != recDataOff+c {
		return fmt.Errorf("capacity %d in a %d-byte block: %w", c, blockLen, ErrCorrupt)
	}
	if h.maxItems > math.MaxInt64 {
		return fmt.Errorf("item limit %d: %w", int64(h.maxItems), ErrCapacity)
	}
	if h.maxMessage > shm.MaxSize {
		return fmt.Errorf("message limit %d: %w", int64(h.maxMessage), ErrCorrupt)
	}
	if h.salt&^recSaltMask != 0 {
		return fmt.Errorf("salt %#x: %w", h.salt, ErrCorrupt)
	}
	if a := h.spillArea; !a.IsZero() && (a.Kind != shm.KindHeap || a.Offset <= 0 || a.Size <= 0) {
		return fmt.Errorf("spill area %v: %w", a, ErrCorrupt)
	}
	return h.checkCursors()
}

// checkCursors validates freed <= head <= tail <= freed+capacity, all
// multiples of recAlign.
func (h *ringHeader) checkCursors() error {
	f, hd, t := h.freed.Load(), h.head.Load(), h.tail.Load()
	if f%recAlign != 0 || hd%recAlign != 0 || t%recAlign != 0 || f > hd || hd > t || t-f > h.capacity {
		return fmt.Errorf("cursors freed %d head %d tail %d in %d bytes: %w", f, hd, t, h.capacity, ErrCorrupt)
	}
	return nil
}
