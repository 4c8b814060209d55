package shm

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
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
// valid payload offset, so containers can use it as "none". Bytes, Uint64
// and Uint32 turn an offset into memory of this process.
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
	_   noCopy
	b   Block
	mem []byte // the heap block's bytes: header, then arena
}

// The heap header sits at offset 0 of the heap block; the arena follows.
// All words are little-endian and reached through atomics.
//
//	offset size field     written by                read by
//	     0    4 magic     NewHeap, last             OpenHeap ("HEAP")
//	     4    4 version   NewHeap                   OpenHeap
//	     8    8 end       NewHeap                   every bounds check: arena end
//	    16    8 arena     NewHeap                   every bounds check: arena start
//	    64    8 bump      Alloc, CAS                Alloc, Free, bounds checks: end of the carved arena
//	   128    8 inUse     Alloc (add), Free (sub)   Stats: bytes of blocks in use
//	   136    8 allocs    Alloc (add)               Stats
//	   144    8 frees     Free (add)                Stats
//	   152    8 failures  Alloc (add)               Stats: requests refused for want of space
//	   192 8*N  heads     Alloc/Free, CAS           Alloc/Free: free list of each class
//
// A free-list head packs a tag and an offset: bits 0-35 hold the offset of
// the first free block divided by 16 (0: the list is empty), bits 36-63 a
// tag that every successful compare-and-swap of the head increments. The tag
// is what makes the pop safe from ABA: a process that read head (t, A) and
// A's next B, then stalled while others popped A and B and pushed A back,
// finds (t+3, A) and its compare-and-swap fails instead of installing the
// stale B. (A stall through 2^28 head changes could fool it; that is
// hundreds of millions of allocations during one preempted pop.)
//
// Every block starts with a 16-byte header; its payload follows, 16-aligned:
//
//	offset size field  written by                  read by
//	     0    8 state  Alloc (store), Free (CAS)   Free (double-free check), Alloc (pop check)
//	     8    8 next   Free, before the push CAS   Alloc, before the pop CAS
//
// state packs bits 0-7 the block's condition (1 in use, 2 free), bits 8-15
// its size class, bits 32-63 a magic that marks a block header. next holds
// the heap offset of the following free block's header, 0 at the end.
const (
	heapMagic   = 0x50414548 // "HEAP"
	heapVersion = 1

	heapOffMagic    = 0
	heapOffVersion  = 4
	heapOffEnd      = 8
	heapOffArena    = 16
	heapOffBump     = 64
	heapOffInUse    = 128
	heapOffAllocs   = 136
	heapOffFrees    = 144
	heapOffFailures = 152
	heapOffHeads    = 192

	blkHeader   = 16
	blkOffState = 0
	blkOffNext  = 8
	blkMagic    = 0x4b4c4248 // "HBLK"
	blkUsed     = 1
	blkFree     = 2

	headOffBits = 36
	headOffMask = 1<<headOffBits - 1
)

// heapClasses are the block sizes, header included: 32 to 128 in steps of
// 16, then four steps per doubling up to 1 GiB.
var heapClasses = func() []int64 {
	var c []int64
	for s := int64(32); s <= 128; s += 16 {
		c = append(c, s)
	}
	for p := int64(128); p < 1<<30; p *= 2 {
		c = append(c, p+p/4, p+p/2, p+3*p/4, 2*p)
	}
	return c
}()

// heapArenaStart is where the arena begins in every heap block.
var heapArenaStart = roundUp(heapOffHeads+8*int64(len(heapClasses)), Align)

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
	h := &Heap{b: b, mem: b.Bytes()}
	// The block is fresh and zero: every head is empty, every counter 0.
	h.word(heapOffEnd).Store(uint64(capacity))
	h.word(heapOffArena).Store(uint64(heapArenaStart))
	h.word(heapOffBump).Store(uint64(heapArenaStart))
	h.word32(heapOffVersion).Store(heapVersion)
	// Publish: an OpenHeap that loads the magic sees the fields above.
	h.word32(heapOffMagic).Store(heapMagic)
	return h, nil
}

// OpenHeap binds a heap made by NewHeap, here or in another process, from
// its handle, and checks its header.
func OpenHeap(hd Handle) (*Heap, error) {
	b, err := BindHandle(hd, KindHeap)
	if err != nil {
		return nil, fmt.Errorf("open heap: %w", err)
	}
	h := &Heap{b: b, mem: b.Bytes()}
	if int64(len(h.mem)) < heapArenaStart {
		return nil, fmt.Errorf("open heap: %d bytes: %w", len(h.mem), ErrCorrupt)
	}
	if m := h.word32(heapOffMagic).Load(); m != heapMagic {
		return nil, fmt.Errorf("open heap: magic %#x: %w", m, ErrCorrupt)
	}
	if v := h.word32(heapOffVersion).Load(); v != heapVersion {
		return nil, fmt.Errorf("open heap: version %d, this build reads %d: %w", v, heapVersion, ErrVersion)
	}
	end, arena, bump := h.word(heapOffEnd).Load(), h.word(heapOffArena).Load(), h.word(heapOffBump).Load()
	if end > uint64(len(h.mem)) || arena != uint64(heapArenaStart) || bump < arena || bump > end {
		return nil, fmt.Errorf("open heap: end %d arena %d bump %d in %d bytes: %w", end, arena, bump, len(h.mem), ErrCorrupt)
	}
	return h, nil
}

// Handle names the heap for another process.
func (h *Heap) Handle() Handle { return h.b.Handle() }

// Block returns the region block the heap lives in. A heap offset off is
// offset off of this block too, so an object that needs a Block (a lock
// placed with sync.MutexAt, say) can live inside a heap allocation.
func (h *Heap) Block() Block { return h.b }

// Region returns the region the heap lives in.
func (h *Heap) Region() *Region { return h.b.r }

func (h *Heap) word(off int64) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&h.mem[off]))
}

func (h *Heap) word32(off int64) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&h.mem[off]))
}

func (h *Heap) end() uint64 { return uint64(len(h.mem)) &^ (blkHeader - 1) }

// carved returns the end of the carved arena, never beyond the heap's end:
// a bounds check must hold even if a stray write scribbled the bump word.
func (h *Heap) carved() uint64 { return min(h.word(heapOffBump).Load(), h.end()) }

// validBlock reports whether blk could be the header of a carved block.
func (h *Heap) validBlock(blk uint64, bump uint64) bool {
	return blk >= uint64(heapArenaStart) && blk%blkHeader == 0 && blk+blkHeader <= bump
}

// Alloc returns the offset of a zero-filled payload of at least n bytes
// (Cap tells how many), 16-aligned. It takes a free block of n's size
// class, else carves a new one from the arena, else takes a free block of
// a larger class (up to 4 times the size, the rest wasted while it is in
// use). It fails with ErrNoSpace when none of those exists, and with ErrSize
// when n is not in [1, MaxHeapAlloc].
func (h *Heap) Alloc(n int64) (int64, error) {
	if err := h.b.r.checkOpen(); err != nil {
		return 0, fmt.Errorf("heap alloc: %w", err)
	}
	if n <= 0 || n > MaxHeapAlloc {
		return 0, fmt.Errorf("heap alloc of %d bytes (at most %d): %w", n, MaxHeapAlloc, ErrSize)
	}
	c := classFor(n)
	blk, err := h.pop(c)
	if err != nil {
		return 0, err
	}
	if blk == 0 {
		blk, err = h.carve(c)
		if errors.Is(err, ErrNoSpace) {
			// Fall back on a larger class's free block.
			for c2 := c + 1; c2 < len(heapClasses) && heapClasses[c2] <= 4*heapClasses[c]; c2++ {
				b, err2 := h.pop(c2)
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
				h.word(heapOffFailures).Add(1)
				return 0, fmt.Errorf("heap alloc of %d bytes: %w", n, err)
			}
			return 0, err
		}
	}
	h.word(heapOffInUse).Add(uint64(heapClasses[c]))
	h.word(heapOffAllocs).Add(1)
	return int64(blk + blkHeader), nil
}

// pop takes the first block off class c's free list, marks it in use and
// clears its payload. It returns 0 when the list is empty.
func (h *Heap) pop(c int) (uint64, error) {
	size := uint64(heapClasses[c])
	head := h.word(heapOffHeads + 8*int64(c))
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
			return 0, fmt.Errorf("heap alloc: free list %d names offset %d: %w", c, blk, ErrCorrupt)
		}
		// next may be stale if blk was popped meanwhile; then the tag has
		// changed and the compare-and-swap below fails.
		next := h.word(int64(blk+blkOffNext)).Load() / blkHeader
		if head.CompareAndSwap(old, (old>>headOffBits+1)<<headOffBits|next&headOffMask) {
			break
		}
	}
	// The block is ours alone now. A crash from here on leaks it.
	st := h.word(int64(blk + blkOffState))
	if s := st.Load(); s != blkMagic<<32|uint64(c)<<8|blkFree {
		return 0, fmt.Errorf("heap alloc: free block at %d has state %#x: %w", blk, s, ErrCorrupt)
	}
	clear(h.mem[blk+blkHeader : blk+size])
	st.Store(blkMagic<<32 | uint64(c)<<8 | blkUsed)
	return blk, nil
}

// carve cuts a new block of class c from the arena. The compare-and-swap
// hands [cur, cur+size) to this process alone; those bytes were never
// handed out, so they are still zero. A crash between the compare-and-swap
// and the state store leaks the block.
func (h *Heap) carve(c int) (uint64, error) {
	size := uint64(heapClasses[c])
	bumpw := h.word(heapOffBump)
	end := h.end()
	for {
		cur := bumpw.Load()
		if cur < uint64(heapArenaStart) || cur > end || cur%blkHeader != 0 {
			return 0, fmt.Errorf("heap alloc: bump offset %d: %w", cur, ErrCorrupt)
		}
		if size > end-cur {
			return 0, fmt.Errorf("%d of %d arena bytes left uncarved, none free in its size class (%d bytes) or the next larger ones: %w",
				end-cur, end-uint64(heapArenaStart), size, ErrNoSpace)
		}
		if bumpw.CompareAndSwap(cur, cur+size) {
			h.word(int64(cur + blkOffState)).Store(blkMagic<<32 | uint64(c)<<8 | blkUsed)
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
	s := h.word(int64(blk + blkOffState)).Load()
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
	st := h.word(int64(blk + blkOffState))
	if !st.CompareAndSwap(blkMagic<<32|uint64(c)<<8|blkUsed, blkMagic<<32|uint64(c)<<8|blkFree) {
		return fmt.Errorf("heap free: block at %d freed concurrently: %w", off, ErrFree)
	}
	head := h.word(heapOffHeads + 8*int64(c))
	next := h.word(int64(blk + blkOffNext))
	for {
		old := head.Load()
		// The store of next happens before the compare-and-swap that
		// publishes blk; a popper that loads the new head sees it.
		next.Store((old & headOffMask) * blkHeader)
		if head.CompareAndSwap(old, (old>>headOffBits+1)<<headOffBits|blk/blkHeader) {
			break
		}
	}
	h.word(heapOffInUse).Add(^uint64(heapClasses[c]) + 1)
	h.word(heapOffFrees).Add(1)
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
	b, err := h.Bytes(off, 8)
	if err != nil {
		return nil, err
	}
	return (*atomic.Uint64)(unsafe.Pointer(&b[0])), nil
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
	inUse := int64(h.word(heapOffInUse).Load())
	return HeapStats{
		Capacity: end - heapArenaStart,
		Carved:   bump - heapArenaStart,
		InUse:    inUse,
		Free:     bump - heapArenaStart - inUse,
		Left:     end - bump,
		Allocs:   int64(h.word(heapOffAllocs).Load()),
		Frees:    int64(h.word(heapOffFrees).Load()),
		Failures: int64(h.word(heapOffFailures).Load()),
	}, nil
}
