package queue

import (
	"context"
	"errors"
	"fmt"
	"github.com/forkless-go/forkless/internal/event"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/proc"
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
	// recHdr is the size of a record header; records start at multiples of
	// recAlign, so the bytes left before the end of the ring are always a
	// multiple of recAlign and a padding record's header always fits.
	recHdr   = 16
	recAlign = 16
)

// A record ring is one shm.Block of kind KindRecords: a 512-byte header, then
// the data area. Each group of words that one side writes sits on a cache
// line of its own.
//
//	offset size field        written by                      read by
//	     0    4 magic        creator, last (atomic)          openers: recMagic
//	     4    4 version      creator                         openers: recVersion
//	     8    8 capacity     creator                         everyone: data bytes, a power of two
//	    16    8 maxItems     creator                         producers: most records queued (0: no limit)
//	    24    4 flags        creator                         openers: recFlagJoinable
//	    28    4 elem         creator                         OpenOf: fixed size of T, or 0
//	    32    8 type         creator                         OpenOf: fingerprint of T, or 0
//	    40    8 maxMessage   creator                         producers: largest message (spilled above the inline limit), 0: inline only
//	    48    8 salt         creator (random, low 56 bits)   everyone: mixed into committed state words (position tags)
//	    64    8 lock         producers (CAS 0->owner, store 0) producers: the claim lock (owner word, below)
//	    72    8 tail         lock holder (store)             consumers: end of the claimed records
//	    80    8 puts         lock holder (store)             Len: records ever claimed
//	   128    8 head         consumers (CAS)                 consumers: first record not yet taken
//	   136    8 gets         consumers (add)                 Len, producers (maxItems)
//	   192    8 freed        consumers, recoverers (CAS)     producers: bytes before it may be reused
//	   256    4 closed       Close (store 1, under the lock) everyone
//	   320    8 notEmpty     EventCount seq, waiters         consumers sleep on it, producers notify
//	   384    8 notFull      EventCount seq, waiters         producers sleep on it, consumers notify
//	   448    8 unfinished   Joinable Put (+1), TaskDone (-1)   Join
//	   456    8 joined       EventCount seq, waiters         Join sleeps, TaskDone notifies
//	   464    8 writer       Pipe end (owner word)           the peer's Recv: is the writer alive?
//	   472    8 reader       Pipe end (owner word)           the peer's Send: is the reader alive?
//	   512  cap data: records
//
// Positions (head, tail, freed) are byte counts since the ring was made;
// they only grow (2^64 bytes never wrap in practice) and a position p lives
// at data[p mod capacity]. Always freed <= head <= tail <= freed+capacity,
// and all three are multiples of 16.
//
// A record is a 16-byte header and its payload, padded to a multiple of 16:
//
//	offset size field   written by                read by
//	     0    8 state   see the state machine     everyone (atomic)
//	     8    4 span    producer, before tail     consumers, freed-advancers: bytes to the next record
//	    12    4 length  producer, before commit   the consumer: payload bytes (<= span-16)
//	    16      payload
//
// In every state but committed the state word, like the claim lock, is an
// "owner word":
//
//	bits  0-3  state: recClaimed, recReading, recFree, recPad
//	bits  4-7  flags: recFlagSpill (the payload names a spill region)
//	bits  8-31 pid of the process that owns the record now (pids < 2^22 on Linux)
//	bits 32-63 low 32 bits of that process's start time (proc.ID.Start)
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
// the record at p (see tryTake: the ABA argument).
const (
	recMagic = 0x43455246 // "FREC" little-endian
	// recVersion 2: committed state words carry a position tag (1: the
	// committer's owner bits), and the header has a salt at 48.
	recVersion = 2

	recOffMagic      = 0
	recOffVersion    = 4
	recOffCap        = 8
	recOffMaxItems   = 16
	recOffFlags      = 24
	recOffElem       = 28
	recOffType       = 32
	recOffMaxMsg     = 40
	recOffSalt       = 48
	recOffLock       = 64
	recOffTail       = 72
	recOffPuts       = 80
	recOffHead       = 128
	recOffGets       = 136
	recOffFreed      = 192
	recOffClosed     = 256
	recOffNotEmpty   = 320
	recOffNotFull    = 384
	recOffUnfinished = 448
	recOffJoined     = 456
	recOffWriter     = 464
	recOffReader     = 472
	recDataOff       = 512

	recFlagJoinable = 1 << 0

	// Record states (bits 0-3 of the state word).
	//
	//	claimed --commit--> committed --take--> reading --release--> free
	//	   |                                       |
	//	   +--owner died (a consumer)--> free      +--owner died (a producer waiting for room)--> free
	//	pad: written committed-as-padding by the producer that wraps
	recClaimed   = 1 // a producer is writing the payload
	recCommitted = 2 // complete, waiting for a consumer
	recReading   = 3 // a consumer has taken it and is reading the payload
	recFree      = 4 // done with (read, aborted or abandoned): its bytes may be reused
	recPad       = 5 // padding up to the end of the data area; never delivered

	recStateMask  = 0x0f
	recFlagSpill  = 0x10
	recOwnerMask  = ^uint64(0xff)
	recLockedWord = 0x0f // the state bits of a held claim lock
	recSaltMask   = 1<<56 - 1
)

// committedWord is the state word of the record at position p once
// committed: the state, the flags, and p's tag. Two positions less than
// 2^60 bytes apart have different tags, so no record of another lap (and
// no record of another ring, whose salt differs) is committed with the
// same word at the same offset.
func (q *records) committedWord(p, flags uint64) uint64 {
	return recCommitted | flags&recFlagSpill | (p>>4^q.salt)<<8
}

// Crash recovery timing: a waiter that has seen the same record (or lock)
// held for recoverAfter checks its owner's liveness, then again every
// recoverEvery. A live but slow owner is never robbed: only a dead one is.
const (
	recoverAfter = 20 * time.Millisecond
	recoverEvery = 10 * time.Millisecond
	tryLockFor   = 5 * recoverAfter
)

// errNotReady: the record at the head is claimed but not yet committed.
var errNotReady = errors.New("record not committed yet")

// ownerWord returns the owner bits (8-63) naming this process.
var ownerWord = sync.OnceValue(func() uint64 {
	id := proc.Self()
	return uint64(uint32(id.Pid)&0xffffff)<<8 | uint64(uint32(id.Start))<<32
})

// ownerAlive reports whether the process named by the owner bits of w still
// runs. An unknown answer (no /proc, another system) counts as alive, so a
// live owner is never robbed.
func ownerAlive(w uint64) bool {
	pid := int((w >> 8) & 0xffffff)
	if pid == 0 {
		return false
	}
	start, err := proc.StartTime(pid)
	if err != nil {
		return !errors.Is(err, proc.ErrNoProcess)
	}
	if uint32(start) != uint32(w>>32) {
		return false // the pid now names a later process
	}
	return proc.Alive(proc.ID{Pid: int32(pid), Start: start})
}

// records is one process's view of a record ring. It is safe for use by
// any number of goroutines; the ring by any number of processes.
type records struct {
	b      shm.Block
	data   []byte
	cap    uint64
	mask   uint64
	max    uint64 // maxItems, 0 for none
	maxMsg uint64 // largest message, 0: inline only
	salt   uint64 // the ring's salt (56 bits), for committedWord

	lock, tail, puts, head, gets, freed *atomic.Uint64
	closed                              *atomic.Uint32
	notEmpty, notFull                   event.Count

	me uint64 // ownerWord()

	// freedCache is a producer's last look at freed (a hint; never ahead
	// of the real value, since freed only grows).
	freedCache atomic.Uint64
	// tailCache is a consumer's last look at tail (a hint, never ahead of
	// the real value): while head is below it, the records up to it are
	// known to be claimed and tail need not be loaded (which would pull
	// the producers' cache line over).
	tailCache atomic.Uint64

	// stall remembers the record (or lock owner) a waiter in this process
	// has seen stuck, and since when, for the liveness checks.
	stallMu sync.Mutex
	stalls  map[uint64]stall
}

type stall struct {
	word  uint64 // the state or lock word seen
	since time.Time
	last  time.Time // last liveness check
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
	mem := b.Bytes()
	putU64(mem, recOffCap, c)
	putU64(mem, recOffMaxItems, uint64(maxItems))
	putU64(mem, recOffMaxMsg, uint64(max(maxMsg, 0)))
	putU32(mem, recOffFlags, flags)
	putU32(mem, recOffElem, elem)
	putU64(mem, recOffType, typ)
	putU64(mem, recOffSalt, rand.Uint64()&recSaltMask)
	putU32(mem, recOffVersion, recVersion)
	// Publish the header: an opener that loads the magic sees the fields.
	b.Uint32(recOffMagic).Store(recMagic)
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

func recView(b shm.Block) (*records, error) {
	mem := b.Bytes()
	if len(mem) < recDataOff+MinBytes {
		return nil, fmt.Errorf("open queue: block of %d bytes: %w", len(mem), ErrCorrupt)
	}
	if m := b.Uint32(recOffMagic).Load(); m != recMagic {
		return nil, fmt.Errorf("open queue: magic %#x: %w", m, ErrCorrupt)
	}
	if v := getU32(mem, recOffVersion); v != recVersion {
		return nil, fmt.Errorf("open queue: layout version %d, want %d: %w", v, recVersion, ErrCorrupt)
	}
	c := getU64(mem, recOffCap)
	if c < MinBytes || c > MaxBytes || c&(c-1) != 0 {
		return nil, fmt.Errorf("open queue: capacity %d: %w", int64(c), ErrCapacity)
	}
	if uint64(len(mem)) != recDataOff+c {
		return nil, fmt.Errorf("open queue: capacity %d in a %d-byte block: %w", c, len(mem), ErrCorrupt)
	}
	maxItems := getU64(mem, recOffMaxItems)
	if maxItems > math.MaxInt64 {
		return nil, fmt.Errorf("open queue: item limit %d: %w", int64(maxItems), ErrCapacity)
	}
	maxMsg := getU64(mem, recOffMaxMsg)
	if maxMsg > shm.MaxSize {
		return nil, fmt.Errorf("open queue: message limit %d: %w", int64(maxMsg), ErrCorrupt)
	}
	salt := getU64(mem, recOffSalt)
	if salt&^recSaltMask != 0 {
		return nil, fmt.Errorf("open queue: salt %#x: %w", salt, ErrCorrupt)
	}
	q := &records{
		salt:     salt,
		maxMsg:   maxMsg,
		b:        b,
		data:     mem[recDataOff : recDataOff+c : recDataOff+c],
		cap:      c,
		mask:     c - 1,
		max:      maxItems,
		lock:     b.Uint64(recOffLock),
		tail:     b.Uint64(recOffTail),
		puts:     b.Uint64(recOffPuts),
		head:     b.Uint64(recOffHead),
		gets:     b.Uint64(recOffGets),
		freed:    b.Uint64(recOffFreed),
		closed:   b.Uint32(recOffClosed),
		notEmpty: event.New(b.Uint32(recOffNotEmpty), b.Uint32(recOffNotEmpty+4)),
		notFull:  event.New(b.Uint32(recOffNotFull), b.Uint32(recOffNotFull+4)),
		me:       ownerWord(),
	}
	if err := q.checkCursors(); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	q.freedCache.Store(q.freed.Load())
	return q, nil
}

// checkCursors validates freed <= head <= tail <= freed+cap, all multiples
// of recAlign.
func (q *records) checkCursors() error {
	f, h, t := q.freed.Load(), q.head.Load(), q.tail.Load()
	if f%recAlign != 0 || h%recAlign != 0 || t%recAlign != 0 || f > h || h > t || t-f > q.cap {
		return fmt.Errorf("cursors freed %d head %d tail %d in %d bytes: %w", f, h, t, q.cap, ErrCorrupt)
	}
	return nil
}

func putU32(b []byte, off int, v uint32) {
	*(*uint32)(unsafe.Pointer(&b[off])) = v
}
func putU64(b []byte, off int, v uint64) {
	*(*uint64)(unsafe.Pointer(&b[off])) = v
}
func getU32(b []byte, off int) uint32 { return *(*uint32)(unsafe.Pointer(&b[off])) }
func getU64(b []byte, off int) uint64 { return *(*uint64)(unsafe.Pointer(&b[off])) }

// state returns the state word of the record at position p. p is masked, so
// the word is always inside the data area (and 16-aligned).
func (q *records) state(p uint64) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&q.data[p&q.mask]))
}

// span reads and validates the span of the record at p: a multiple of 16,
// at least a header, and not past the end of the data area. A bad span is
// ErrCorrupt; nothing is read outside the ring.
func (q *records) span(p uint64) (uint64, error) {
	off := p & q.mask
	s := uint64(getU32(q.data, int(off)+8))
	if s < recHdr || s%recAlign != 0 || s > q.cap-off {
		return 0, fmt.Errorf("record at %d spans %d bytes, %d left before the end: %w", p, s, q.cap-off, ErrCorrupt)
	}
	return s, nil
}

// payload returns the payload of the record at p, after checking its length
// against its span.
func (q *records) payload(p, span uint64) ([]byte, error) {
	off := p & q.mask
	n := uint64(getU32(q.data, int(off)+12))
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

// ---- the claim lock ----

// lockClaim takes the producers' claim lock. It is held for a few dozen
// instructions (no system call, no allocation), so waiters spin and yield.
// A waiter that has seen the same holder for recoverAfter checks whether
// it died; a dead holder's lock is taken over (with a CAS from exactly the
// word seen, so two recoverers cannot both win). What a dead holder left
// is harmless: a header written past tail is overwritten, and a record it
// had already published by storing tail is claimed by a dead owner, which
// consumers skip (see takeStall).
//
// A nil ctx is a non-blocking caller (TryPut): it gives up with ErrFull
// after tryLockFor, which only a holder that is stopped (SIGSTOP) or dead
// and not yet recovered, or a corrupt lock word naming a live process, can
// make it reach.
func (q *records) lockClaim(ctx context.Context) error {
	me := q.me | recLockedWord
	if q.lock.CompareAndSwap(0, me) {
		return nil
	}
	var start time.Time
	for i := 0; ; i++ {
		w := q.lock.Load()
		if w == 0 {
			if q.lock.CompareAndSwap(0, me) {
				return nil
			}
			continue
		}
		if i < 64 {
			continue
		}
		if i < 256 {
			runtime.Gosched()
			continue
		}
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
		} else if start.IsZero() {
			start = time.Now()
		} else if time.Since(start) > tryLockFor {
			return ErrFull
		}
		if q.stalled(^uint64(0), w) && !ownerAlive(w) && q.lock.CompareAndSwap(w, me) {
			q.unstall(^uint64(0))
			return nil
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// unlockClaim releases the claim lock (the store hands tail, puts and the
// headers written under the lock to the next holder).
func (q *records) unlockClaim() { q.lock.Store(0) }

// stalled records that a waiter in this process sees word at key (a
// position, or ^0 for the lock), and reports true when the same word has
// been there for recoverAfter and no liveness check was made for
// recoverEvery: time to check its owner.
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

// ---- producing ----

// tryClaim claims a record for n payload bytes (flags: recFlagSpill or 0).
// It returns the record's position, or ErrFull (no room now), ErrClosed.
//
// Under the claim lock it reads tail, pads to the end of the data area when
// the record would not fit before it, checks room against freed (and the
// item limit), writes the header(s) and stores tail: that store publishes
// the claimed record to consumers, which see it claimed (by this process)
// until commit.
func (q *records) tryClaim(ctx context.Context, n int, flags uint64) (uint64, error) {
	span := recSpan(n)
	if n < 0 || span > q.cap/2 {
		return 0, fmt.Errorf("put %d bytes in a %d-byte queue: %w", n, q.cap, ErrTooLarge)
	}
	if err := q.lockClaim(ctx); err != nil {
		if err == ErrFull {
			return 0, err
		}
		return 0, fmt.Errorf("put: %w", err)
	}
	if q.closed.Load() != 0 {
		q.unlockClaim()
		return 0, fmt.Errorf("put: %w", ErrClosed)
	}
	t := q.tail.Load()
	off := t & q.mask
	var pad uint64
	if q.cap-off < span {
		pad = q.cap - off
	}
	end := t + pad + span
	if f := q.freedCache.Load(); end-f > q.cap || f > t {
		f = q.freed.Load()
		q.freedCache.Store(f)
		if f > t || t-f > q.cap {
			q.unlockClaim()
			return 0, fmt.Errorf("put: freed %d tail %d: %w", f, t, ErrCorrupt)
		}
		if end-f > q.cap {
			q.unlockClaim()
			return 0, ErrFull
		}
	}
	puts := q.puts.Load()
	if q.max != 0 && puts-q.gets.Load() >= q.max {
		q.unlockClaim()
		return 0, ErrFull
	}
	if pad != 0 {
		putU32(q.data, int(off)+8, uint32(pad))
		putU32(q.data, int(off)+12, 0)
		q.state(t).Store(recPad | q.me)
	}
	p := t + pad
	po := p & q.mask
	putU32(q.data, int(po)+8, uint32(span))
	putU32(q.data, int(po)+12, uint32(n))
	q.state(p).Store(recClaimed | flags | q.me)
	q.puts.Store(puts + 1)
	// Publish the claim (and the padding) to consumers.
	q.tail.Store(end)
	q.unlockClaim()
	return p, nil
}

// claim is tryClaim that waits for room (spinning, then sleeping on
// notFull) until ctx is done.
func (q *records) claim(ctx context.Context, n int, flags uint64) (uint64, error) {
	for {
		p, err := q.tryClaim(ctx, n, flags)
		if err != ErrFull {
			return p, err
		}
		span := recSpan(n)
		err = q.notFull.WaitEvery(ctx, recoverEvery, func() bool { return q.roomFor(span) })
		if err != nil {
			return 0, fmt.Errorf("put: %w", err)
		}
	}
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
	if f > t || t-f > q.cap {
		return true // corrupt: let tryClaim report it
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
	// Nothing freed: is the record at freed held by a dead reader?
	if f < q.head.Load() {
		w := q.state(f).Load()
		if w&recStateMask == recReading && q.stalled(f, w) && !ownerAlive(w) {
			if q.freeDead(f, w, func() bool { return q.freed.Load() == f }) {
				q.unstall(f)
				if w&recFlagSpill != 0 {
					q.dropSpill(f)
				}
				q.advanceFreed()
				return true
			}
		}
	}
	return false
}

// commit publishes the record at p with n payload bytes (n <= the claimed
// length): the final store of its state word hands the payload, written
// with ordinary stores before it, to whichever consumer loads the word.
func (q *records) commit(p uint64, n int) error {
	putU32(q.data, int(p&q.mask)+12, uint32(n))
	st := q.state(p)
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

// ---- consuming ----

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
//     What is left (doc.go, Caveats): for the nanoseconds between the CAS
//     and its undo, the 8 payload bytes read "reading", which a payload
//     that reproduced the tagged word of step 2 could expose to its own
//     consumer if this one were descheduled exactly there too.
func (q *records) tryTake() (uint64, uint64, error) {
	for {
		h := q.head.Load()
		t := q.tailCache.Load()
		if h >= t || t-h > q.cap {
			t = q.tail.Load()
			q.tailCache.Store(t)
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
	if q.lockClaim(nil) != nil {
		return false
	}
	defer q.unlockClaim()
	return genuine() && q.state(p).CompareAndSwap(w, recFree|(w&recFlagSpill)|q.me)
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
	if h > t || t-h > q.cap {
		return true
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
// is done.
func (q *records) take(ctx context.Context) (uint64, uint64, error) {
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
		if err := q.notEmpty.WaitEvery(ctx, recoverEvery, q.takeReady); err != nil {
			return 0, 0, fmt.Errorf("get: %w", err)
		}
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
// freed passes it.
func (q *records) release(p, w uint64) {
	st := q.state(p)
	if !st.CompareAndSwap(w, recFree|q.me) {
		// A recoverer freed it, believing this process dead: impossible
		// while it runs, so the ring's words were overwritten.
		panic(fmt.Sprintf("forkless/ring: record at %d changed while this process read it (state %#x)", p, st.Load()))
	}
	q.advanceFreed()
}

// advanceFreed moves freed past every free record and padding below head,
// then wakes producers waiting for room if it moved.
//
// Lost-advance argument: consumer A frees record X (store, then loads of
// freed and head); consumer B advances freed up to X (CAS, then load of X's
// state). The atomics are sequentially consistent, so either A's load sees
// freed == X and A advances past X, or B's load sees X free and B does:
// freed never stops in front of a free record while anyone is active. The
// CAS from exactly f makes each step happen once; a record behind head is
// never reused before freed passes it, so the span read at f is its own.
func (q *records) advanceFreed() {
	moved := false
	for {
		f := q.freed.Load()
		if f >= q.head.Load() {
			break
		}
		w := q.state(f).Load()
		if s := w & recStateMask; s != recFree && s != recPad {
			break
		}
		s, err := q.span(f)
		if err != nil {
			break // corrupt; consumers and producers report it
		}
		if q.freed.CompareAndSwap(f, f+s) {
			moved = true
		}
	}
	if moved {
		q.notFull.Notify()
	}
}

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
