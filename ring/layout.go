package ring

import (
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/shm"
)

// The shared-memory layouts of the fixed-slot rings. Every process maps the
// same bytes through these structs; the offsets are pinned below, so a
// change that would move a field fails to compile instead of making two
// builds disagree. Each group of words one side writes sits on a cache line
// of its own.

// slotHeader is the first cache line of every fixed-slot ring. The creator
// writes every field with plain stores, then stores magic (atomically) last;
// an opener loads magic first, so it sees the complete header. Nobody
// writes the header afterwards except closed.
type slotHeader struct {
	// magic: creator, last (atomic store; the hand-off of the header);
	// openers load it first and require spscMagic or mpmcMagic.
	magic atomic.Uint32
	// version: creator; openers require slotVersion.
	version uint32
	// capacity: creator; everyone: the most items the ring holds.
	capacity uint64
	// slots: creator; everyone: the slots in the array, a power of two >=
	// capacity, so a position maps to its slot with a mask while the
	// capacity stays exactly what was asked (MPMC: capacity == slots).
	slots uint64
	// elem: creator; openers: the size of T.
	elem uint32
	// stride: creator; openers: bytes per slot.
	stride uint32
	// typ: creator; openers: the fingerprint of T (layout.Info.ID).
	typ uint64
	// closed: Close (atomic store 0->1, any process); read by every put and
	// get. The store hands "closed" to both sides; the index stores made
	// before it are visible with it.
	closed atomic.Uint32
	_      [20]byte
}

// spscLayout is an SPSC ring's block up to its slots, which follow at
// spscData as a plain [slots]T. The tail store hands the written slots to
// the consumer; the head store hands the read slots back to the producer.
type spscLayout struct {
	hdr slotHeader
	// head: the consumer (atomic store, after reading the slots below it);
	// read by the producer when its cached copy says the ring is full, and
	// by Len. The producer may write slot i while tail <= i < head+capacity.
	head atomic.Uint64
	_    [56]byte
	// tail: the producer (atomic store, after writing the slots below it);
	// read by the consumer when its cached copy says the ring is empty, and
	// by Len. The consumer may read slot i while head <= i < tail.
	tail atomic.Uint64
	_    [56]byte
	// notEmpty: consumers sleep on it, the producer notifies after a tail
	// store (see event.Words).
	notEmpty event.Words
	_        [56]byte
	// notFull: the producer sleeps on it, the consumer notifies after a
	// head store.
	notFull event.Words
	_       [56]byte
}

// mpmcLayout is an MPMC ring's block up to its slots, which follow at
// mpmcData as [slots]mpmcSlot[T].
type mpmcLayout struct {
	hdr slotHeader
	// enq: producers (CAS from the position they loaded: claims
	// [enq, enq+n)); read by producers, Len and consumers' recovery.
	enq atomic.Uint64
	_   [56]byte
	// deq: consumers (CAS: claims [deq, deq+n)); read by consumers, Len
	// and producers' recovery.
	deq atomic.Uint64
	_   [56]byte
	// notEmpty, notFull: as in spscLayout, for any number of sleepers.
	notEmpty event.Words
	_        [56]byte
	notFull  event.Words
	_        [56]byte
	// parts records every attached ring value, so that a claim left by a
	// dead process can be told from a slow one (see checkProducerStall).
	parts [maxParticipants]participant
}

// participant is one attached MPMC value (NewMPMC or OpenMPMC), one line.
type participant struct {
	// pid: the attaching value (CAS 0 -> pid, or from a dead process's pid
	// to its own), reset to 0 by Detach; read by attachers and recoverers.
	// The CAS hands the entry to one value.
	pid atomic.Uint32
	_   [4]byte
	// start: the entry's owner, after its pid CAS; recoverers read it to
	// tell the process from a later one with the same pid.
	start atomic.Uint64
	// pushN, pushPos: the claim the owner is about to make or holds,
	// positions [pushPos, pushPos+pushN), stored before the claim CAS and
	// changed only after publication; recoverers read them.
	pushN, pushPos atomic.Uint64
	// popN, popPos: likewise for the consumer side.
	popN, popPos atomic.Uint64
	_            [16]byte
}

// mpmcSlot is one MPMC slot: Vyukov's sequence word, then the item. For
// the slot of position p (p & (slots-1)):
//
//	seq == p               free for the producer of position p
//	seq == p+1             holds the item of position p, for its consumer
//	seq == p+1 | 1<<63     position p was revoked (its producer died): consumers skip it
//	seq == p+slots         read; free for the producer of position p+slots
//
// The producer's store of seq = p+1 hands val to the consumer of p; the
// consumer's store of seq = p+slots hands the slot to the next lap.
type mpmcSlot[T any] struct {
	seq atomic.Uint64
	val T
}

// The offsets other processes rely on.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.version)-4]
	_ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.capacity)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.slots)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.elem)-24]
	_ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.stride)-28]
	_ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.typ)-32]
	_ = [1]struct{}{}[unsafe.Offsetof(slotHeader{}.closed)-40]
	_ = [1]struct{}{}[unsafe.Sizeof(slotHeader{})-64]

	_ = [1]struct{}{}[unsafe.Offsetof(spscLayout{}.head)-64]
	_ = [1]struct{}{}[unsafe.Offsetof(spscLayout{}.tail)-128]
	_ = [1]struct{}{}[unsafe.Offsetof(spscLayout{}.notEmpty)-192]
	_ = [1]struct{}{}[unsafe.Offsetof(spscLayout{}.notFull)-256]
	_ = [1]struct{}{}[unsafe.Sizeof(spscLayout{})-spscData]

	_ = [1]struct{}{}[unsafe.Offsetof(mpmcLayout{}.enq)-64]
	_ = [1]struct{}{}[unsafe.Offsetof(mpmcLayout{}.deq)-128]
	_ = [1]struct{}{}[unsafe.Offsetof(mpmcLayout{}.notEmpty)-192]
	_ = [1]struct{}{}[unsafe.Offsetof(mpmcLayout{}.notFull)-256]
	_ = [1]struct{}{}[unsafe.Offsetof(mpmcLayout{}.parts)-320]
	_ = [1]struct{}{}[unsafe.Sizeof(mpmcLayout{})-mpmcData]

	_ = [1]struct{}{}[unsafe.Offsetof(participant{}.start)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(participant{}.pushN)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(participant{}.pushPos)-24]
	_ = [1]struct{}{}[unsafe.Offsetof(participant{}.popN)-32]
	_ = [1]struct{}{}[unsafe.Offsetof(participant{}.popPos)-40]
	_ = [1]struct{}{}[unsafe.Sizeof(participant{})-64]
	_ = [1]struct{}{}[unsafe.Offsetof(mpmcSlot[byte]{}.val)-8]
)

const (
	spscData    = 320                      // SPSC slots
	mpmcData    = 320 + maxParticipants*64 // MPMC slots
	slotVersion = 1
	spscMagic   = 0x43535053 // "SPSC" little-endian
	mpmcMagic   = 0x434d504d // "MPMC" little-endian
)

// slotGeom is what a header says, once checked.
type slotGeom struct {
	capacity uint64
	slots    uint64
	stride   uint64
}

// slotGeometryFor computes the layout of a ring of capacity items of elem bytes
// with a data area starting at dataOff, each slot taking extra bytes before
// the element (0 for SPSC, 8 for the MPMC sequence word). It returns the
// block size, or ErrCapacity.
func slotGeometryFor(capacity int, info layout.Info, dataOff, extra uint64) (slotGeom, int64, error) {
	if capacity <= 0 || uint64(capacity) > MaxSlotCapacity {
		return slotGeom{}, 0, fmt.Errorf("capacity %d (want 1..%d): %w", capacity, uint64(MaxSlotCapacity), ErrCapacity)
	}
	if info.Size == 0 {
		return slotGeom{}, 0, fmt.Errorf("slots of zero-size %v: %w", info.Type, shm.ErrSize)
	}
	g := slotGeom{capacity: uint64(capacity), stride: slotStride(uint64(info.Size), uint64(info.Align), extra)}
	g.slots = 1 << bits.Len64(g.capacity-1)
	size, ok := g.size(dataOff)
	if !ok || size > shm.MaxSize {
		return slotGeom{}, 0, fmt.Errorf("capacity %d of %d-byte slots is too large: %w", capacity, g.stride, ErrCapacity)
	}
	return g, int64(size), nil
}

// slotStride is the bytes per slot: T itself for SPSC (a plain []T), the
// size of mpmcSlot[T] for MPMC (the seq word, then T, each slot aligned to
// max(8, align of T)).
func slotStride(size, align, extra uint64) uint64 {
	if extra == 0 {
		return size
	}
	a := max(align, 8)
	return (extra + size + a - 1) / a * a
}

// size is dataOff + slots*stride, and false on overflow.
func (g slotGeom) size(dataOff uint64) (uint64, bool) {
	hi, lo := bits.Mul64(g.slots, g.stride)
	if hi != 0 || lo > math.MaxInt64-dataOff {
		return 0, false
	}
	return dataOff + lo, true
}

// init fills a fresh header and publishes it by storing the magic.
func (h *slotHeader) init(magic uint32, g slotGeom, info layout.Info) {
	h.version = slotVersion
	h.capacity = g.capacity
	h.slots = g.slots
	h.elem = uint32(info.Size)
	h.stride = uint32(g.stride)
	h.typ = info.ID
	// Publish: an opener that loads the magic sees the fields above.
	h.magic.Store(magic)
}

// Validate checks what another process could have scribbled in a ring's
// header against what the opener expects, in a block of blockLen bytes,
// and returns the geometry. It accepts only a geometry whose slots lie
// inside the block: it is the one place that trusts the header, and the
// fuzz target.
func (h *slotHeader) Validate(magic uint32, blockLen int, dataOff, extra uint64, info layout.Info) (slotGeom, error) {
	if m := h.magic.Load(); m != magic {
		return slotGeom{}, fmt.Errorf("bad magic %#x: %w", m, ErrCorrupt)
	}
	if h.version != slotVersion {
		return slotGeom{}, fmt.Errorf("layout version %d, want %d: %w", h.version, slotVersion, ErrCorrupt)
	}
	if uint64(h.elem) != uint64(info.Size) {
		return slotGeom{}, fmt.Errorf("ring holds %d-byte slots, %v is %d bytes: %w", h.elem, info.Type, info.Size, shm.ErrType)
	}
	if h.typ != info.ID {
		return slotGeom{}, fmt.Errorf("ring holds another element type than %v: %w", info.Type, shm.ErrType)
	}
	g := slotGeom{capacity: h.capacity, slots: h.slots, stride: uint64(h.stride)}
	if g.stride != slotStride(uint64(info.Size), uint64(info.Align), extra) {
		return slotGeom{}, fmt.Errorf("slot stride %d for %d-byte %v: %w", g.stride, info.Size, info.Type, ErrCorrupt)
	}
	if g.capacity == 0 || g.capacity > MaxSlotCapacity || g.slots == 0 || g.slots&(g.slots-1) != 0 ||
		g.capacity > g.slots || g.slots >= 2*g.capacity {
		return slotGeom{}, fmt.Errorf("capacity %d in %d slots: %w", g.capacity, g.slots, ErrCorrupt)
	}
	if size, ok := g.size(dataOff); !ok || size != uint64(blockLen) {
		return slotGeom{}, fmt.Errorf("%d slots of %d bytes do not fill the %d-byte block: %w", g.slots, g.stride, blockLen, ErrCorrupt)
	}
	return g, nil
}
