package shared

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
	fsync "github.com/forkless-go/forkless/sync"
)

// The containers' shared memory, all of it in blocks of one shm.Heap and
// named by heap offsets (the same number in every process). Every word
// another process writes is checked where it is used: an offset, length or
// count out of range answers ErrCorrupt (ErrHandle when it came with a
// handle), never a fault.

// containerHeader starts every container (Dict, List, ShareableList,
// Record), in a heap block of its own. The constructor writes it into a
// fresh block and stores magic last; Open loads magic first (the hand-off
// of kind, version, the fingerprints and seed, constant from then on) and
// checks them (Validate). root, count, tombs and seq change under the lock.
type containerHeader struct {
	// lock: the word of the container's robust sync.Mutex (sync.MutexAt
	// at offset 0; package sync owns its layout, fsync.MutexSize bytes).
	lock [8]byte
	// seq: a dict's change sequence, on the lock's cache line, so that a
	// writer, which takes the lock and then moves seq, has one line to get
	// from the last writer instead of two. Writers add 1 under the lock
	// before and after every change (odd while changing); Dict.Get's
	// optimistic read is valid if it saw seq even and unchanged around it
	// (seqlock). A list's move journals its new count here (List.commit).
	seq atomic.Uint64
	// spare: a dict's spare entry block (its heap offset, 0: none): a
	// writer parks the entry its change replaced here (CompareAndSwap from
	// 0, after the lock is released) instead of freeing it, and the next
	// writer in any process takes it (Swap 0) for its new entry instead of
	// allocating, so that a Set whose value keeps its size makes no heap
	// allocation. A block held here is the dict's, freed with the heap.
	// It is checked as a heap block in use before it is written to.
	spare atomic.Uint64
	_     [40]byte
	// magic is ctMagic ("SHCT") once the header is complete: stored last
	// by the constructor, loaded first by Open.
	magic atomic.Uint32
	// kind and version: written by the constructor before magic; Open
	// refuses another kind, or a version other than ctVersion.
	kind    shm.Kind
	version uint16
	// keyFP and valFP: fingerprints of the key and value types (0 for a
	// list's key); Open refuses others.
	keyFP atomic.Uint64
	valFP atomic.Uint64
	// root: heap offset of the slot array (slotArray). Writers replace it
	// under the lock with one store, after the new array is complete (the
	// hand-off of the array's contents); readers load it (a dict's Get
	// without the lock) and check it against the heap.
	root atomic.Uint64
	// count: entries (dict) or items (list). Writers store it under the
	// lock, after the slots it counts (a list's Append publishes its items
	// with this store); Len loads it without the lock.
	count atomic.Uint64
	// tombs: a dict's tombstones, kept under the lock for the load factor
	// and recounted with count by repair. A list's move journals its new
	// root here (List.commit).
	tombs atomic.Uint64
	// seed: a dict's hash seed, written by the constructor before magic,
	// constant (lists leave it 0).
	seed atomic.Uint64
	_    [8]byte
}

const (
	hdrSize   = 128
	ctMagic   = 0x54434853 // "SHCT"
	ctVersion = 2
)

// The layout is fixed across processes: each line fails to compile unless
// the field sits at its offset.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.lock)-0]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.seq)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.spare)-16]
	_ = [8 - fsync.MutexSize]struct{}{} // the lock's words end where seq starts
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.magic)-64]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.kind)-68]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.version)-70]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.keyFP)-72]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.valFP)-80]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.root)-88]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.count)-96]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.tombs)-104]
	_ = [1]struct{}{}[unsafe.Offsetof(containerHeader{}.seed)-112]
	_ = [1]struct{}{}[unsafe.Sizeof(containerHeader{})-hdrSize]
)

// Validate checks a header another process published (magic loaded)
// against what the opener expects.
func (h *containerHeader) Validate(kind shm.Kind, keyFP, valFP uint64) error {
	if h.kind != kind {
		return fmt.Errorf("it holds a %s: %w", kindName(h.kind), ErrHandle)
	}
	if h.version != ctVersion {
		return fmt.Errorf("layout version %d, this build reads %d: %w", h.version, ctVersion, ErrHandle)
	}
	if h.keyFP.Load() != keyFP || h.valFP.Load() != valFP {
		return fmt.Errorf("the container holds other key or value types: %w", ErrHandle)
	}
	return nil
}

// slotArray heads a table (dict) or slot array (list), a heap block of
// 8+8*capacity bytes: capacity, then capacity slots of 8 bytes. The
// process that makes one stores capacity and fills the slots before it
// publishes the array's offset in containerHeader.root; capacity never
// changes after. Slots are stored under the lock, each with one atomic
// store (that store is the moment a change happens) and loaded by anyone.
// container.slots checks capacity against the block before use.
//
// A dict slot holds
//
//	0                  empty: ends a probe sequence
//	1                  tombstone: a deleted entry, probing goes on
//	tag<<48 | offset   an entry: offset is its heap offset (below 2^40),
//	                   tag the top 16 bits of its key's hash, so most
//	                   mismatches are rejected without reading the entry
//
// A list slot holds an item's heap offset.
type slotArray struct {
	capacity atomic.Uint64
	// slots [capacity]atomic.Uint64 follow
}

var _ = [1]struct{}{}[unsafe.Sizeof(slotArray{})-slotsOffset]

const slotsOffset = 8

// entryHeader starts a dict entry, a heap block that the writer fills
// before the slot store that publishes it and that nobody changes after
// (until it is freed and reused); the key's bytes follow it, then the
// value's. Readers (Get without the lock too) check the lengths against
// the heap before they use them. The fields are atomic because Get's
// lock-free read loads them racing with a reuse of the block, and on arm64
// only atomic loads are ordered before its closing check of the change
// sequence (see Dict.tryGet); the key and value bytes it reads the same
// way, through the heap's words (loadBytes). newEntry writes the fields as
// bytes at these offsets, before the block is published.
type entryHeader struct {
	hash   atomic.Uint64 // of the key, so a rebuild rehashes without reading it
	keyLen atomic.Uint32
	valLen atomic.Uint32
}

const entData = 16

var (
	_ = [1]struct{}{}[unsafe.Offsetof(entryHeader{}.keyLen)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(entryHeader{}.valLen)-12]
	_ = [1]struct{}{}[unsafe.Sizeof(entryHeader{})-entData]
)

// itemHeader starts a list item, a heap block that the writer fills before
// the slot store (or, for Append, the count store) that publishes it and
// that nobody changes after; its bytes follow. Readers check length
// against the heap.
type itemHeader struct {
	length uint64
}

const itemData = 8

var _ = [1]struct{}{}[unsafe.Sizeof(itemHeader{})-itemData]
