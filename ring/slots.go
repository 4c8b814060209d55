package ring

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/shm"
)

// Object kinds of the fixed-slot rings (the slot rings own 0x0200-0x020f).
const (
	KindSPSC shm.Kind = 0x0200 // an SPSC[T]
	KindMPMC shm.Kind = 0x0201 // an MPMC[T]
)

// MaxSlotCapacity bounds the capacity of a fixed-slot ring (2^32 items);
// larger requests fail with ErrCapacity.
const MaxSlotCapacity = 1 << 32

// The first cache line of every fixed-slot ring is its header. The creating
// process writes every field, then stores the magic last (atomically);
// openers load the magic first, so they see a complete header. Nobody
// writes the header afterwards, except the closed word.
//
//	offset size field     written by          read by
//	     0    4 magic     creator, last       openers (must be spscMagic/mpmcMagic)
//	     4    4 version   creator             openers (must be slotVersion)
//	     8    8 capacity  creator             everyone: most items the ring holds
//	    16    8 slots     creator             everyone: slots in the array, a power of two >= capacity
//	    24    4 elem      creator             openers: size of T
//	    28    4 stride    creator             openers: bytes per slot
//	    32    8 type      creator             openers: fingerprint of T (layout.Info.ID)
//	    40    4 closed    Close (atomic, 0->1) every put and get
//	    44   20 reserved, zero
const (
	slotHdrMagic    = 0
	slotHdrVersion  = 4
	slotHdrCapacity = 8
	slotHdrSlots    = 16
	slotHdrElem     = 24
	slotHdrStride   = 28
	slotHdrType     = 32
	slotHdrClosed   = 40

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

func slotStride(size, align, extra uint64) uint64 {
	if extra == 0 {
		return size // SPSC: a plain []T
	}
	// MPMC: seq word, then T, each slot 8-aligned.
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

// writeSlotHeader fills a fresh header and publishes it by storing the magic.
func writeSlotHeader(b shm.Block, magic uint32, g slotGeom, info layout.Info) {
	h := b.Bytes()[:64]
	le := binary.LittleEndian
	le.PutUint32(h[slotHdrVersion:], slotVersion)
	le.PutUint64(h[slotHdrCapacity:], g.capacity)
	le.PutUint64(h[slotHdrSlots:], g.slots)
	le.PutUint32(h[slotHdrElem:], uint32(info.Size))
	le.PutUint32(h[slotHdrStride:], uint32(g.stride))
	le.PutUint64(h[slotHdrType:], info.ID)
	// Publish: an opener that loads the magic sees the fields above.
	b.Uint32(slotHdrMagic).Store(magic)
}

// checkSlotHeader validates a ring header in mem (the whole block) against what
// the opener expects, and returns the geometry. It never indexes mem outside
// its length and accepts only a geometry whose slots lie inside mem: this is
// the one place that trusts shared bytes, and the fuzz target.
func checkSlotHeader(mem []byte, magic uint32, dataOff, extra uint64, info layout.Info) (slotGeom, error) {
	if uint64(len(mem)) < dataOff || len(mem) < 64 {
		return slotGeom{}, fmt.Errorf("%d-byte block is smaller than a ring header: %w", len(mem), ErrCorrupt)
	}
	le := binary.LittleEndian
	m := (*atomic.Uint32)(unsafe.Pointer(&mem[slotHdrMagic])).Load()
	if m != magic {
		return slotGeom{}, fmt.Errorf("bad magic %#x: %w", m, ErrCorrupt)
	}
	if v := le.Uint32(mem[slotHdrVersion:]); v != slotVersion {
		return slotGeom{}, fmt.Errorf("layout version %d, want %d: %w", v, slotVersion, ErrCorrupt)
	}
	if e := le.Uint32(mem[slotHdrElem:]); uint64(e) != uint64(info.Size) {
		return slotGeom{}, fmt.Errorf("ring holds %d-byte slots, %v is %d bytes: %w", e, info.Type, info.Size, shm.ErrType)
	}
	if t := le.Uint64(mem[slotHdrType:]); t != info.ID {
		return slotGeom{}, fmt.Errorf("ring holds another element type than %v: %w", info.Type, shm.ErrType)
	}
	g := slotGeom{
		capacity: le.Uint64(mem[slotHdrCapacity:]),
		slots:    le.Uint64(mem[slotHdrSlots:]),
		stride:   uint64(le.Uint32(mem[slotHdrStride:])),
	}
	if g.stride != slotStride(uint64(info.Size), uint64(info.Align), extra) {
		return slotGeom{}, fmt.Errorf("slot stride %d for %d-byte %v: %w", g.stride, info.Size, info.Type, ErrCorrupt)
	}
	if g.capacity == 0 || g.capacity > MaxSlotCapacity || g.slots == 0 || g.slots&(g.slots-1) != 0 ||
		g.capacity > g.slots || g.slots >= 2*g.capacity {
		return slotGeom{}, fmt.Errorf("capacity %d in %d slots: %w", g.capacity, g.slots, ErrCorrupt)
	}
	if size, ok := g.size(dataOff); !ok || size != uint64(len(mem)) {
		return slotGeom{}, fmt.Errorf("%d slots of %d bytes do not fill the %d-byte block: %w", g.slots, g.stride, len(mem), ErrCorrupt)
	}
	return g, nil
}

// openSlotBlock binds h as a ring of the given kind holding T, checking the
// handle against T first, then the header.
func openSlotBlock(h shm.Handle, kind shm.Kind, magic uint32, dataOff, extra uint64, info layout.Info) (shm.Block, slotGeom, error) {
	if h.Kind != kind {
		return shm.Block{}, slotGeom{}, fmt.Errorf("handle names a %v: %w", h.Kind, shm.ErrKind)
	}
	if h.Type != info.ID || uint64(h.Elem) != uint64(info.Size) {
		return shm.Block{}, slotGeom{}, fmt.Errorf("handle names a ring of another element type than %v: %w", info.Type, shm.ErrType)
	}
	b, err := shm.BindHandle(h, kind)
	if err != nil {
		return shm.Block{}, slotGeom{}, err
	}
	mem := b.Bytes()
	if mem == nil {
		return shm.Block{}, slotGeom{}, fmt.Errorf("region closed: %w", shm.ErrClosed)
	}
	g, err := checkSlotHeader(mem, magic, dataOff, extra, info)
	if err != nil {
		return shm.Block{}, slotGeom{}, err
	}
	return b, g, nil
}

// pad keeps process-local hot fields of a ring value on separate cache lines.
type slotPad [64]byte

// slotNoCopy lets go vet flag a copied ring value.
type slotNoCopy struct{}

func (*slotNoCopy) Lock()   {}
func (*slotNoCopy) Unlock() {}
