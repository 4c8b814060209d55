package shm

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/mapped"
)

// KindHeap is the kind of a Heap object: a general allocator with free,
// living in one block of a region.
const KindHeap Kind = 0x0010

// A Heap is a general-purpose allocator with Free, for objects that come
// and go (the entries of a shared dict, the items of a shared list). It
// lives inside one block of a region, allocated once with Region.Alloc, and
// hands out pieces of that block's arena. Several processes allocate and
// free from the same heap at once; every operation is lock-free, built on
// compare-and-swap of 64-bit words, so a process killed at any instruction
// leaves the heap usable by all the others (at worst one block leaks).
//
// Offsets name blocks: Alloc returns the offset of a block's payload from
// the start of the heap, the same number in every process, and 0 is never a
// valid payload offset, so containers can use it as "none". Bytes and
// Uint64 turn an offset into memory of this process.
//
// Capacity model: a heap never grows (regions do not grow). Its arena is
// carved into blocks of a fixed set of size classes (about 25% apart, from
// 32 bytes to 1 GiB, each with a 16-byte header); a freed block goes back to
// the free list of its class and serves the next request of that class.
// When a class's free list is empty and the uncarved rest of the arena is
// too small, a free block of a larger class (up to 4 times the size) serves;
// only when there is none either does the request fail with ErrNoSpace.
// Blocks are never split or merged: memory carved for small blocks does not
// serve large ones. Stats tells how much is carved, in use and left.
//
// A Heap value is used by one process, by any number of goroutines.
type Heap struct {
	_     noCopy
	b     Block
	mem   []byte        // the heap block's bytes: header, then arena
	hdr   *heapHeader   // at mem[0]
	cells []blockHeader // mem as 16-byte cells: block headers sit at cells[blk/blkHeader]
}

// heapHeader sits at offset 0 of the heap block; the arena follows it.
// NewHeap writes the constant fields of a fresh, zero block and stores
// magic last; OpenHeap loads magic first (that load is the hand-off of the
// constant fields) and then checks them (Validate). Every other word is
// changed by any process through atomics, and read through them.
type heapHeader struct {
	magic   atomic.Uint32 // "HEAP", stored last by NewHeap, loaded first by OpenHeap
	version atomic.Uint32 // heapVersion; OpenHeap refuses another
	end     atomic.Uint64 // arena end (bytes of the block NewHeap rounded to blkHeader); constant
	arena   atomic.Uint64 // arena start, heapArenaStart; constant
	_       [40]byte
	// bump: end of the carved arena, on a cache line of its own. carve
	// claims [bump, bump+size) with a compare-and-swap; every bounds check
	// reads it (capped at the heap's end, in case it was scribbled on).
	bump atomic.Uint64
	_    [56]byte
	// Counters for Stats, updated just after the change they count, so a
	// process killed in between leaves them one block off.
	inUse    atomic.Uint64 // bytes of blocks in use: Alloc adds, Free subtracts
	allocs   atomic.Uint64 // Alloc adds
	frees    atomic.Uint64 // Free adds
	failures atomic.Uint64 // Alloc adds, for requests refused for want of space
	_        [32]byte
	// heads: the free list of each size class, a tagged head (below).
	// Alloc pops and Free pushes, each by a compare-and-swap; the pusher's
	// store of the block's next happens before its CAS, and the popper's
	// load of the head acquires it.
	heads [heapClassCount]atomic.Uint64
	_     [heapArenaStart - heapOffHeads - 8*heapClassCount]byte
}

// A free-list head packs a tag and an offset: bits 0-35 hold the offset of
// the first free block divided by 16 (0: the list is empty), bits 36-63 a
// tag that every successful compare-and-swap of the head increments. The tag
// is what makes the pop safe from ABA: a process that read head (t, A) and
// A's next B, then stalled while others popped A and B and pushed A back,
// finds (t+3, A) and its compare-and-swap fails instead of installing the
// stale B. (A stall through 2^28 head changes could fool it; that is
// hundreds of millions of allocations during one preempted pop.)
const (
	headOffBits = 36
	headOffMask = 1<<headOffBits - 1
)

// blockHeader starts every carved block; the payload follows, 16-aligned.
type blockHeader struct {
	// state packs bits 0-7 the block's condition (blkUsed, blkFree), bits
	// 8-15 its size class, bits 32-63 blkMagic. The process that carved or
	// popped the block stores it (in use); Free flips it to free with a
	// compare-and-swap, so one of two racing Frees wins; pop checks it.
	state atomic.Uint64
	// next: heap offset of the following free block's header, 0 at the
	// end. Free stores it before the push CAS; pop loads it before the pop
	// CAS (a stale value is caught by the head's tag).
	next atomic.Uint64
}

const (
	heapMagic   = 0x50414548 // "HEAP"
	heapVersion = 1

	heapOffHeads   = 192
	heapArenaStart = 1024 // heapOffHeads + 8*heapClassCount, rounded up to Align

	blkHeader = 16
	blkMagic  = 0x4b4c4248 // "HBLK"
	blkUsed   = 1
	blkFree   = 2
)

// The heap's layout is fixed across processes of other builds: each line
// fails to compile unless the field sits at its offset.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.magic)-0]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.version)-4]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.end)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.arena)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.bump)-64]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.inUse)-128]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.allocs)-136]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.frees)-144]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.failures)-152]
	_ = [1]struct{}{}[unsafe.Offsetof(heapHeader{}.heads)-heapOffHeads]
	_ = [1]struct{}{}[unsafe.Sizeof(heapHeader{})-heapArenaStart]
	_ = [1]struct{}{}[(heapOffHeads+8*heapClassCount+Align-1)/Align*Align-heapArenaStart]
	_ = [1]struct{}{}[unsafe.Offsetof(blockHeader{}.state)-0]
	_ = [1]struct{}{}[unsafe.Offsetof(blockHeader{}.next)-8]
	_ = [1]struct{}{}[unsafe.Sizeof(blockHeader{})-blkHeader]
)

// heapClassCount is the number of size classes: 32 to 128 bytes in steps
// of 16 (7), then four steps per doubling up to 1 GiB (4*23).
const heapClassCount = 7 + 4*23

// heapClasses are the block sizes, header included.
var heapClasses = func() (c [heapClassCount]int64) {
	for i := range 7 {
		c[i] = 32 + 16*int64(i)
	}
	for j := range heapClassCount - 7 {
		p := int64(128) << (j / 4)
		c[7+j] = p + p*int64(j%4+1)/4
	}
	return c
}()

// MaxHeapAlloc is the largest payload one Alloc can return.
var MaxHeapAlloc = heapClasses[len(heapClasses)-1] - blkHeader

func classFor(n int64) int {
	need := n + blkHeader
	lo, hi := 0, len(heapClasses)
	for lo < hi {
		m := (lo + hi) / 2
		if heapClasses[m] >= need {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// NewHeap allocates a heap of about capacity bytes in r (the heap's own
// header, a few hundred bytes, comes out of it).
func NewHeap(r *Region, capacity int64) (*Heap, error) {
	if capacity < heapArenaStart+heapClasses[0] || capacity > MaxSize {
		return nil, fmt.Errorf("new heap of %d bytes (at least %d): %w", capacity, heapArenaStart+heapClasses[0], ErrSize)
	}
	capacity = capacity / blkHeader * blkHeader
	b, err := r.Alloc(Layout{Kind: KindHeap, Size: capacity})
	if err != nil {
		return nil, fmt.Errorf("new heap: %w", err)
	}
	mem := b.Bytes()
	h, err := newHeapView(b, mem)
	if err != nil {
		return nil, fmt.Errorf("new heap: %w", err)
	}
	// The block is fresh and zero: every head is empty, every counter 0.
	h.hdr.end.Store(uint64(capacity))
	h.hdr.arena.Store(heapArenaStart)
	h.hdr.bump.Store(heapArenaStart)
	h.hdr.version.Store(heapVersion)
	// Publish: an OpenHeap that loads the magic sees the fields above.
	h.hdr.magic.Store(heapMagic)
	return h, nil
}

// OpenHeap binds a heap made by NewHeap, here or in another process, from
// its handle, and checks its header.
func OpenHeap(hd Handle) (*Heap, error) {
	b, err := BindHandle(hd, KindHeap)
	if err != nil {
		return nil, fmt.Errorf("open heap: %w", err)
	}
	mem := b.Bytes()
	hdr, err := mapped.At[heapHeader](mem, 0)
	if err != nil {
		return nil, fmt.Errorf("open heap: %d bytes: %w", len(mem), ErrCorrupt)
	}
	if err := hdr.Validate(len(mem)); err != nil {
		return nil, fmt.Errorf("open heap: %w", err)
	}
	h, err := newHeapView(b, mem)
	if err != nil {
		return nil, fmt.Errorf("open heap: %w", err)
	}
	return h, nil
}

// newHeapView lays the heap's types over its block's bytes, once: the
// header, and the 16-byte cells that block headers are found among.
func newHeapView(b Block, mem []byte) (*Heap, error) {
	hdr, err := mapped.At[heapHeader](mem, 0)
	if err != nil {
		return nil, err
	}
	cells, err := mapped.Slice[blockHeader](mem, 0, len(mem)/blkHeader)
	if err != nil {
		return nil, err
	}
	return &Heap{b: b, mem: mem, hdr: hdr, cells: cells}, nil
}

// Validate checks the header of a heap block of size bytes that another
// process made. magic is loaded first: it acquires NewHeap's stores.
func (hh *heapHeader) Validate(size int) error {
	if m := hh.magic.Load(); m != heapMagic {
		return fmt.Errorf("magic %#x: %w", m, ErrCorrupt)
	}
	if v := hh.version.Load(); v != heapVersion {
		return fmt.Errorf("version %d, this build reads %d: %w", v, heapVersion, ErrVersion)
	}
	end, arena, bump := hh.end.Load(), hh.arena.Load(), hh.bump.Load()
	if end > uint64(size) || arena != heapArenaStart || bump < arena || bump > end {
		return fmt.Errorf("end %d arena %d bump %d in %d bytes: %w", end, arena, bump, size, ErrCorrupt)
	}
	return nil
}

// Handle names the heap for another process.
func (h *Heap) Handle() Handle { return h.b.Handle() }

// Block returns the region block the heap lives in. A heap offset off is
// offset off of this block too, so an object that needs a Block (a lock
// placed with sync.MutexAt, say) can live inside a heap allocation.
func (h *Heap) Block() Block { return h.b }

// Region returns the region the heap lives in.
func (h *Heap) Region() *Region { return h.b.r }

// block returns the header of the block at heap offset blk, which the
// caller has checked with validBlock (so it lies inside the carved arena,
// 16-aligned).
func (h *Heap) block(blk uint64) *blockHeader { return &h.cells[blk/blkHeader] }

func (h *Heap) end() uint64 { return uint64(len(h.mem)) &^ (blkHeader - 1) }

// carved returns the end of the carved arena, never beyond the heap's end:
// a bounds check must hold even if a stray write scribbled the bump word.
func (h *Heap) carved() uint64 { return min(h.hdr.bump.Load(), h.end()) }

// validBlock reports whether blk could be the header of a carved block.
func (h *Heap) validBlock(blk uint64, bump uint64) bool {
	return blk >= heapArenaStart && blk%blkHeader == 0 && blk+blkHeader <= bump
}

// Alloc returns the offset of a zero-filled payload of at least n bytes
// (Cap tells how many), 16-aligned. It takes a free block of n's size
// class, else carves a new one from the arena, else takes a free block of
// a larger class (up to 4 times the size, the rest wasted while it is in
// use). It fails with ErrNoSpace when none of those exists, and with ErrSize
// when n is not in [1, MaxHeapAlloc].
func (h *Heap) Alloc(n int64) (int64, error) { return h.alloc(n, true) }

// AllocRaw is Alloc without the clearing: a block taken from a free list
// keeps the bytes its last user left there (a freshly carved one is zero).
// It is for a caller that writes every byte it will read, such as a queue
// copying a message into a block sized for its largest message: clearing
// the whole block would cost more than the copy, and touch (so commit)
// pages the message never uses.
func (h *Heap) AllocRaw(n int64) (int64, error) { return h.alloc(n, false) }

func (h *Heap) alloc(n int64, zero bool) (int64, error) {
	if err := h.b.r.checkOpen(); err != nil {
		return 0, fmt.Errorf("heap alloc: %w", err)
	}
	if n <= 0 || n > MaxHeapAlloc {
		return 0, fmt.Errorf("heap alloc of %d bytes (at most %d): %w", n, MaxHeapAlloc, ErrSize)
	}
	c := classFor(n)
	blk, err := h.pop(c, zero)
	if err != nil {
		return 0, err
	}
	if blk == 0 {
		blk, err = h.carve(c)
		if errors.Is(err, ErrNoSpace) {
			// Fall back on a larger class's free block.
			for c2 := c + 1; c2 < len(heapClasses) && heapClasses[c2] <= 4*heapClasses[c]; c2++ {
				b, err2 := h.pop(c2, zero)
				if err2 != nil {
					return 0, err2
				}
				if b != 0 {
					blk, c, err = b, c2, nil
					break
				}
			}
		}
		if err != nil {
			if errors.Is(err, ErrNoSpace) {
				h.hdr.failures.Add(1)
				return 0, fmt.Errorf("heap alloc of %d bytes: %w", n, err)
			}
			return 0, err
		}
	}
	h.hdr.inUse.Add(uint64(heapClasses[c]))
	h.hdr.allocs.Add(1)
	return int64(blk + blkHeader), nil
}

// pop takes the first block off class c's free list, marks it in use and
// clears its payload if zero says so. It returns 0 when the list is empty.
//
// A list another process wrote over (a head or next naming no carved
// block, or a block on it that is not free: a cycle, say) is ErrCorrupt
// for this call, and the list is dropped: its blocks leak, and the class
// is carved afresh, instead of every later Alloc of the class meeting the
// same bad head.
func (h *Heap) pop(c int, zero bool) (uint64, error) {
	size := uint64(heapClasses[c])
	head := &h.hdr.heads[c]
	var blk uint64
	for {
		// The load of head acquires the pusher's store of next.
		old := head.Load()
		blk = (old & headOffMask) * blkHeader
		if blk == 0 {
			return 0, nil
		}
		bump := h.carved()
		if !h.validBlock(blk, bump) || blk+size > bump {
			h.drop(c, old)
			return 0, fmt.Errorf("heap alloc: free list %d names offset %d: %w", c, blk, ErrCorrupt)
		}
		// next may be stale if blk was popped meanwhile; then the tag has
		// changed and the compare-and-swap below fails.
		next := h.block(blk).next.Load() / blkHeader
		if head.CompareAndSwap(old, (old>>headOffBits+1)<<headOffBits|next&headOffMask) {
			break
		}
	}
	// The block is ours alone now. A crash from here on leaks it.
	st := &h.block(blk).state
	if s := st.Load(); s != blkMagic<<32|uint64(c)<<8|blkFree {
		h.drop(c, head.Load())
		return 0, fmt.Errorf("heap alloc: free block at %d has state %#x: %w", blk, s, ErrCorrupt)
	}
	if zero {
		clear(h.mem[blk+blkHeader : blk+size])
	}
	st.Store(blkMagic<<32 | uint64(c)<<8 | blkUsed)
	return blk, nil
}

// drop empties class c's free list if its head is still old (a compare-
// and-swap that also moves the tag on).
func (h *Heap) drop(c int, old uint64) {
	h.hdr.heads[c].CompareAndSwap(old, (old>>headOffBits+1)<<headOffBits)
}

// carve cuts a new block of class c from the arena. The compare-and-swap
// hands [cur, cur+size) to this process alone; those bytes were never
// handed out, so they are still zero. A crash between the compare-and-swap
// and the state store leaks the block.
func (h *Heap) carve(c int) (uint64, error) {
	size := uint64(heapClasses[c])
	bumpw := &h.hdr.bump
	end := h.end()
	for {
		cur := bumpw.Load()
		if cur < heapArenaStart || cur > end || cur%blkHeader != 0 {
			return 0, fmt.Errorf("heap alloc: bump offset %d: %w", cur, ErrCorrupt)
		}
		if size > end-cur {
			return 0, fmt.Errorf("%d of %d arena bytes left uncarved, none free in its size class (%d bytes) or the next larger ones: %w",
				end-cur, end-heapArenaStart, size, ErrNoSpace)
		}
		if bumpw.CompareAndSwap(cur, cur+size) {
			h.block(cur).state.Store(blkMagic<<32 | uint64(c)<<8 | blkUsed)
			return cur, nil
		}
	}
}

// blockOf checks that off is the payload offset of a block in use and
// returns its header offset and class.
func (h *Heap) blockOf(off int64) (blk uint64, class int, err error) {
	bump := h.carved()
	blk = uint64(off) - blkHeader
	if off < blkHeader || !h.validBlock(blk, bump) {
		return 0, 0, fmt.Errorf("offset %d is not a block of the heap: %w", off, ErrFree)
	}
	s := h.block(blk).state.Load()
	class = int(s >> 8 & 0xff)
	if s>>32 != blkMagic || class >= len(heapClasses) || blk+uint64(heapClasses[class]) > bump {
		return 0, 0, fmt.Errorf("offset %d is not a block of the heap: %w", off, ErrFree)
	}
	if s&0xff != blkUsed {
		return 0, 0, fmt.Errorf("block at %d is not in use (freed twice?): %w", off, ErrFree)
	}
	return blk, class, nil
}

// Free returns the block at payload offset off to its size class. Freeing
// an offset that is not a block in use (twice, or never allocated) fails
// with ErrFree and changes nothing. The caller must not touch the block
// afterwards: another process may have it already.
func (h *Heap) Free(off int64) error {
	if err := h.b.r.checkOpen(); err != nil {
		return fmt.Errorf("heap free: %w", err)
	}
	blk, c, err := h.blockOf(off)
	if err != nil {
		return fmt.Errorf("heap free: %w", err)
	}
	// The compare-and-swap of the state makes one Free win a double free.
	// A crash after it and before the push leaks the block.
	st := &h.block(blk).state
	if !st.CompareAndSwap(blkMagic<<32|uint64(c)<<8|blkUsed, blkMagic<<32|uint64(c)<<8|blkFree) {
		return fmt.Errorf("heap free: block at %d freed concurrently: %w", off, ErrFree)
	}
	head := &h.hdr.heads[c]
	next := &h.block(blk).next
	for {
		old := head.Load()
		// The store of next happens before the compare-and-swap that
		// publishes blk; a popper that loads the new head sees it.
		next.Store((old & headOffMask) * blkHeader)
		if head.CompareAndSwap(old, (old>>headOffBits+1)<<headOffBits|blk/blkHeader) {
			break
		}
	}
	h.hdr.inUse.Add(^uint64(heapClasses[c]) + 1)
	h.hdr.frees.Add(1)
	return nil
}

// Cap returns the payload bytes of the block in use at off: at least what
// Alloc was asked for.
func (h *Heap) Cap(off int64) (int64, error) {
	_, c, err := h.blockOf(off)
	if err != nil {
		return 0, fmt.Errorf("heap block size: %w", err)
	}
	return heapClasses[c] - blkHeader, nil
}

// Bytes returns n bytes of the heap at off, in place, or an error wrapping
// ErrRange if they lie outside the carved arena (an offset read from
// shared memory is checked here before it is used), or ErrClosed.
func (h *Heap) Bytes(off, n int64) ([]byte, error) {
	if err := h.b.r.checkOpen(); err != nil {
		return nil, err
	}
	bump := h.carved()
	if off < heapArenaStart || n < 0 || uint64(off) > bump || uint64(n) > bump-uint64(off) {
		return nil, fmt.Errorf("heap bytes [%d, +%d) outside the arena [%d, %d): %w", off, n, heapArenaStart, bump, ErrRange)
	}
	return h.mem[off : off+n : off+n], nil
}

// Uint64 returns the 8-byte word at heap offset off as an atomic, or an
// error wrapping ErrRange if it is misaligned or outside the carved arena.
func (h *Heap) Uint64(off int64) (*atomic.Uint64, error) {
	if off%8 != 0 {
		return nil, fmt.Errorf("heap word at %d: misaligned: %w", off, ErrRange)
	}
	if _, err := h.Bytes(off, 8); err != nil {
		return nil, err
	}
	return mapped.Must[atomic.Uint64](h.mem, int(off)), nil
}

// HeapStats describes how full a heap is. The counters are updated just
// after the allocation or free they count, so a process killed in between
// leaves them off by one block; they are for reporting, not for logic.
type HeapStats struct {
	Capacity int64 // arena bytes
	Carved   int64 // arena bytes cut into blocks so far
	InUse    int64 // bytes of blocks in use, headers and rounding included
	Free     int64 // carved bytes on free lists (Carved - InUse), plus leaks
	Left     int64 // arena bytes never carved (Capacity - Carved)
	Allocs   int64 // successful Allocs
	Frees    int64 // successful Frees
	Failures int64 // Allocs refused with ErrNoSpace
}

// Stats reports the heap's usage.
func (h *Heap) Stats() (HeapStats, error) {
	if err := h.b.r.checkOpen(); err != nil {
		return HeapStats{}, fmt.Errorf("heap stats: %w", err)
	}
	end, bump := int64(h.end()), int64(h.carved())
	inUse := int64(h.hdr.inUse.Load())
	return HeapStats{
		Capacity: end - heapArenaStart,
		Carved:   bump - heapArenaStart,
		InUse:    inUse,
		Free:     bump - heapArenaStart - inUse,
		Left:     end - bump,
		Allocs:   int64(h.hdr.allocs.Load()),
		Frees:    int64(h.hdr.frees.Load()),
		Failures: int64(h.hdr.failures.Load()),
	}, nil
}
