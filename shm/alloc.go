package shm

import (
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/proc"
)

// Align is the alignment of every object's payload, a cache line, so that no
// two objects' hot words share a line by accident.
const Align = 64

// ObjectHeaderSize is the size of the header in front of every object.
const ObjectHeaderSize = 64

// objectHeader sits in the cache line just before an object's payload.
// Only the allocating process writes it, once, before it publishes the
// object by storing magic; binders load magic first (that load is the
// hand-off: a binder that sees objMagic sees every other field), then
// check the rest against the handle (Validate). The fields never change
// after the hand-off.
type objectHeader struct {
	// magic is objMagic once the header is complete: stored last by Alloc,
	// loaded first by Bind.
	magic atomic.Uint32
	// kind of the object; Bind refuses a handle of another kind.
	kind Kind
	_    uint16 // flags, reserved, zero
	// size: payload bytes as requested (the block spans it rounded up to
	// Align); Bind refuses a handle of another size.
	size uint64
	// elem and typ: element size and type fingerprint of typed objects,
	// else 0; Bind refuses a handle that names other ones.
	elem uint32
	// pid: the allocating process, for diagnostics.
	pid uint32
	typ uint64
	_   [32]byte // reserved for the allocator
}

const objMagic = 0x4a424f46 // "FOBJ" little-endian

// The object header's layout is fixed (handles and Python readers find the
// payload ObjectHeaderSize bytes after it): each line fails to compile
// unless the field sits at its offset.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(objectHeader{}.magic)-0]
	_ = [1]struct{}{}[unsafe.Offsetof(objectHeader{}.kind)-4]
	_ = [1]struct{}{}[unsafe.Offsetof(objectHeader{}.size)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(objectHeader{}.elem)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(objectHeader{}.pid)-20]
	_ = [1]struct{}{}[unsafe.Offsetof(objectHeader{}.typ)-24]
	_ = [1]struct{}{}[unsafe.Sizeof(objectHeader{})-ObjectHeaderSize]
)

// Validate checks a published header (magic loaded) that another process
// may have scribbled on against the handle that names it and the kind the
// caller asks for.
func (o *objectHeader) Validate(h Handle, kind Kind) error {
	if o.kind != kind {
		return fmt.Errorf("object at offset %d is a %v: %w", h.Offset, o.kind, ErrKind)
	}
	if size := int64(o.size); size != h.Size {
		return fmt.Errorf("object holds %d bytes, handle says %d: %w", size, h.Size, ErrHandle)
	}
	if o.elem != h.Elem || o.typ != h.Type {
		return fmt.Errorf("object's element type differs from the handle's: %w", ErrType)
	}
	return nil
}

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
//
// On a nil *Region, Alloc gives the block a region of its own, sized for it
// (as New sizes one): so every constructor of the module that takes a
// region (queue.New, sync.NewMutex, NewValue, ...) takes nil to mean "make
// the memory for me". That region lives until Block.Region().Close(), or
// until the process exits; passing the object to a child shares it.
func (r *Region) Alloc(l Layout) (Block, error) {
	if r == nil {
		return allocOwn(l)
	}
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
	next := &r.hdr.allocNext
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
	r.hdr.allocCount.Add(1)

	// The bytes were never handed out before (the offset only grows) and the
	// kernel zero-fills new shared pages, so the payload is already zero.
	// start was checked above: it is aligned, and the block fits.
	hdr := mapped.Must[objectHeader](r.mem, int(start))
	hdr.kind = l.Kind
	hdr.size = uint64(l.Size)
	hdr.elem = l.Elem
	hdr.pid = uint32(proc.Self().Pid)
	hdr.typ = l.Type
	// Publish: a binder that loads objMagic sees the fields above.
	hdr.magic.Store(objMagic)

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
	end := r.hdr.allocNext.Load()
	if h.Offset < headerSize+ObjectHeaderSize || h.Offset%Align != 0 || h.Size <= 0 ||
		uint64(h.Offset) > end || uint64(h.Size) > end-uint64(h.Offset) || end > uint64(r.size) {
		return Block{}, fmt.Errorf("bind %v: offset %d size %d outside the allocated %d bytes: %w", kind, h.Offset, h.Size, end, ErrHandle)
	}
	// The offset was checked above: aligned, and inside the allocated bytes.
	hdr := mapped.Must[objectHeader](r.mem, int(h.Offset-ObjectHeaderSize))
	if m := hdr.magic.Load(); m != objMagic {
		return Block{}, fmt.Errorf("bind %v: no object at offset %d: %w", kind, h.Offset, ErrHandle)
	}
	if err := hdr.Validate(h, kind); err != nil {
		return Block{}, fmt.Errorf("bind %v: %w", kind, err)
	}
	return Block{r: r, off: h.Offset, size: h.Size, kind: kind, elem: h.Elem, typ: h.Type}, nil
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
	return mapped.Must[atomic.Uint32](b.r.mem, int(b.off+off))
}

// Uint64 returns the 8-byte word at off within the block as an atomic. off
// must be 8-aligned and inside the block.
func (b Block) Uint64(off int64) *atomic.Uint64 {
	b.checkWord(off, 8)
	return mapped.Must[atomic.Uint64](b.r.mem, int(b.off+off))
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
	next := int64(min(r.hdr.allocNext.Load(), uint64(math.MaxInt64)))
	return Stats{
		Size:    r.size,
		Used:    next - headerSize,
		Free:    max(r.size-next, 0),
		Objects: int64(r.hdr.allocCount.Load()),
	}, nil
}

// allocOwn is Alloc on a nil *Region: a new region sized for one block of
// l.Size bytes, holding that block.
func allocOwn(l Layout) (Block, error) {
	if l.Size <= 0 || l.Size > MaxSize {
		return Block{}, fmt.Errorf("allocate %v of %d bytes: %w", l.Kind, l.Size, ErrSize)
	}
	r, err := New(l.Size)
	if err != nil {
		return Block{}, fmt.Errorf("allocate %v: a region of its own: %w", l.Kind, err)
	}
	b, err := r.Alloc(l)
	if err != nil {
		r.Close() //nolint:errcheck // undoing
		return Block{}, err
	}
	return b, nil
}
