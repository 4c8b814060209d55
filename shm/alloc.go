package shm

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/proc"
)

// Align is the alignment of every object's payload, a cache line, so that no
// two objects' hot words share a line by accident.
const Align = 64

// ObjectHeaderSize is the size of the header in front of every object.
const ObjectHeaderSize = 64

// The object header sits in the cache line just before an object's payload.
// Only the allocating process writes it, once, before it publishes the
// object by storing objMagic; binders load objMagic first.
//
//	offset size field   meaning
//	     0    4 magic   objMagic once the header is complete (atomic store)
//	     4    2 kind    Kind of the object
//	     6    2 flags   reserved, zero
//	     8    8 size    payload bytes as requested (the block spans it rounded up to 64)
//	    16    4 elem    element size for typed objects, else 0
//	    20    4 pid     allocating process, for diagnostics
//	    24    8 type    element type fingerprint, or 0
//	    32   32 reserved for the allocator
const (
	objMagic = 0x4a424f46 // "FOBJ" little-endian

	objOffMagic = 0
	objOffKind  = 4
	objOffSize  = 8
	objOffElem  = 16
	objOffPid   = 20
	objOffType  = 24
)

// Layout describes an object to allocate.
type Layout struct {
	Kind Kind
	Size int64  // payload bytes, > 0
	Elem uint32 // element size, for typed objects
	Type uint64 // element type fingerprint, for typed objects
}

// Block is an allocated object: a 64-byte-aligned run of a region's bytes.
// Blocks are small values; copying one copies the reference, not the memory.
type Block struct {
	r    *Region
	off  int64
	size int64
	kind Kind
	elem uint32
	typ  uint64
}

// Alloc reserves a zero-filled, 64-byte-aligned block of l.Size bytes.
// Any process attached to the region may allocate at the same time: the
// region's allocation offset is claimed with a compare-and-swap, so no two
// blocks overlap. It fails with ErrNoSpace when the region is full; nothing
// is ever freed (a region is sized for what it holds).
func (r *Region) Alloc(l Layout) (Block, error) {
	if err := r.checkOpen(); err != nil {
		return Block{}, fmt.Errorf("allocate %v: %w", l.Kind, err)
	}
	if r.raw {
		return Block{}, fmt.Errorf("allocate %v: %w", l.Kind, ErrRaw)
	}
	if l.Kind == KindInvalid {
		return Block{}, fmt.Errorf("allocate: kind 0: %w", ErrKind)
	}
	if l.Size <= 0 || l.Size > MaxSize {
		return Block{}, fmt.Errorf("allocate %v of %d bytes: %w", l.Kind, l.Size, ErrSize)
	}
	need := uint64(ObjectHeaderSize + roundUp(l.Size, Align))
	next := r.word64(offAllocNext)
	var start uint64
	for {
		start = next.Load()
		if start < headerSize || start > uint64(r.size) || start%Align != 0 {
			return Block{}, fmt.Errorf("allocate %v: allocation offset %d: %w", l.Kind, start, ErrCorrupt)
		}
		if need > uint64(r.size)-start {
			return Block{}, fmt.Errorf("allocate %v of %d bytes: %d of %d bytes free: %w",
				l.Kind, l.Size, uint64(r.size)-start, r.size-headerSize, ErrNoSpace)
		}
		// The CAS hands [start, start+need) to this process alone.
		if next.CompareAndSwap(start, start+need) {
			break
		}
	}
	r.word64(offAllocCount).Add(1)

	// The bytes were never handed out before (the offset only grows) and the
	// kernel zero-fills new shared pages, so the payload is already zero.
	hdr := r.mem[start : start+ObjectHeaderSize]
	le := binary.LittleEndian
	le.PutUint16(hdr[objOffKind:], uint16(l.Kind))
	le.PutUint64(hdr[objOffSize:], uint64(l.Size))
	le.PutUint32(hdr[objOffElem:], l.Elem)
	le.PutUint32(hdr[objOffPid:], uint32(proc.Self().Pid))
	le.PutUint64(hdr[objOffType:], l.Type)
	// Publish: a binder that loads objMagic sees the fields above.
	(*atomic.Uint32)(unsafe.Pointer(&hdr[objOffMagic])).Store(objMagic)

	return Block{r: r, off: int64(start) + ObjectHeaderSize, size: l.Size, kind: l.Kind, elem: l.Elem, typ: l.Type}, nil
}

// Bind finds the object a handle names in this region and checks that it
// is of the given kind and matches the handle. It never trusts the handle
// to index memory before checking it against the region's bounds.
func (r *Region) Bind(h Handle, kind Kind) (Block, error) {
	if err := r.checkOpen(); err != nil {
		return Block{}, fmt.Errorf("bind %v: %w", kind, err)
	}
	if r.raw {
		return Block{}, fmt.Errorf("bind %v: %w", kind, ErrRaw)
	}
	if h.Region != r.id {
		return Block{}, fmt.Errorf("bind %v: handle is for region %016x, not %016x: %w", kind, h.Region, r.id, ErrHandle)
	}
	if h.Kind != kind {
		return Block{}, fmt.Errorf("bind %v: handle names a %v: %w", kind, h.Kind, ErrKind)
	}
	end := r.word64(offAllocNext).Load()
	if h.Offset < headerSize+ObjectHeaderSize || h.Offset%Align != 0 || h.Size <= 0 ||
		uint64(h.Offset) > end || uint64(h.Size) > end-uint64(h.Offset) || end > uint64(r.size) {
		return Block{}, fmt.Errorf("bind %v: offset %d size %d outside the allocated %d bytes: %w", kind, h.Offset, h.Size, end, ErrHandle)
	}
	hdr := r.mem[h.Offset-ObjectHeaderSize : h.Offset]
	if m := (*atomic.Uint32)(unsafe.Pointer(&hdr[objOffMagic])).Load(); m != objMagic {
		return Block{}, fmt.Errorf("bind %v: no object at offset %d: %w", kind, h.Offset, ErrHandle)
	}
	le := binary.LittleEndian
	gotKind := Kind(le.Uint16(hdr[objOffKind:]))
	if gotKind != kind {
		return Block{}, fmt.Errorf("bind %v: object at offset %d is a %v: %w", kind, h.Offset, gotKind, ErrKind)
	}
	if size := int64(le.Uint64(hdr[objOffSize:])); size != h.Size {
		return Block{}, fmt.Errorf("bind %v: object holds %d bytes, handle says %d: %w", kind, size, h.Size, ErrHandle)
	}
	elem, typ := le.Uint32(hdr[objOffElem:]), le.Uint64(hdr[objOffType:])
	if elem != h.Elem || typ != h.Type {
		return Block{}, fmt.Errorf("bind %v: object's element type differs from the handle's: %w", kind, ErrType)
	}
	return Block{r: r, off: h.Offset, size: h.Size, kind: kind, elem: elem, typ: typ}, nil
}

// BindHandle binds a handle in whichever region of this process it names.
func BindHandle(h Handle, kind Kind) (Block, error) {
	r, err := Lookup(h.Region)
	if err != nil {
		return Block{}, fmt.Errorf("bind %v: %w", kind, err)
	}
	return r.Bind(h, kind)
}

// Region returns the region the block lives in.
func (b Block) Region() *Region { return b.r }

// Offset returns the block's offset in its region. It is the same in every
// process; addresses are not.
func (b Block) Offset() int64 { return b.off }

// Len returns the block's size in bytes.
func (b Block) Len() int64 { return b.size }

// Kind returns the kind the block was allocated as.
func (b Block) Kind() Kind { return b.kind }

// Handle returns a handle naming the block, for another process to bind.
func (b Block) Handle() Handle {
	return Handle{Region: b.r.id, Offset: b.off, Size: b.size, Kind: b.kind, Elem: b.elem, Type: b.typ}
}

// Bytes returns the block's bytes in place. It returns nil once the region
// is closed.
func (b Block) Bytes() []byte {
	if b.r == nil || b.r.checkOpen() != nil {
		return nil
	}
	return b.r.mem[b.off : b.off+b.size : b.off+b.size]
}

// Live reports whether the block's region is still open in this process: one
// atomic load, for hot paths that must refuse use after Close.
func (b Block) Live() bool { return b.r != nil && !b.r.closed.Load() }

// Uint32 returns the 4-byte word at off within the block as an atomic, for
// the synchronization built on top. off must be 4-aligned and inside the
// block: a bad offset is a bug in the caller, and panics.
func (b Block) Uint32(off int64) *atomic.Uint32 {
	b.checkWord(off, 4)
	return (*atomic.Uint32)(unsafe.Pointer(&b.r.mem[b.off+off]))
}

// Uint64 returns the 8-byte word at off within the block as an atomic. off
// must be 8-aligned and inside the block.
func (b Block) Uint64(off int64) *atomic.Uint64 {
	b.checkWord(off, 8)
	return (*atomic.Uint64)(unsafe.Pointer(&b.r.mem[b.off+off]))
}

func (b Block) checkWord(off, n int64) {
	if b.r == nil || off < 0 || off%n != 0 || off > b.size-n {
		panic(fmt.Sprintf("forkless/shm: %d-byte word at %d outside or misaligned in a %d-byte block", n, off, b.size))
	}
}

// Stats describes a region's allocation state.
type Stats struct {
	Size    int64 // bytes in the region, header included
	Used    int64 // bytes allocated, object headers and rounding included
	Free    int64 // bytes left for objects
	Objects int64 // objects allocated
}

// Stats reports how full the region is.
func (r *Region) Stats() (Stats, error) {
	if err := r.checkOpen(); err != nil {
		return Stats{}, fmt.Errorf("region stats: %w", err)
	}
	if r.raw {
		return Stats{Size: r.size}, nil
	}
	next := int64(min(r.word64(offAllocNext).Load(), uint64(math.MaxInt64)))
	return Stats{
		Size:    r.size,
		Used:    next - headerSize,
		Free:    max(r.size-next, 0),
		Objects: int64(r.word64(offAllocCount).Load()),
	}, nil
}
