package shared

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
	fsync "github.com/forkless-go/forkless/sync"
)

// Crash safety comes from one rule: a change is written out of place and
// published by one atomic 8-byte store. Dict.Set writes a new entry in a
// fresh heap block, stores its offset into the slot, then frees the old
// entry; a table that must grow is built whole, published by one store of
// root, then the old one is freed; List.Append stores the new items'
// offsets past the end, then the new count. A process SIGKILLed at any
// instruction leaves either the old state or the new one; what it may leave
// behind is a leaked block (allocated but not yet published, or unpublished
// but not yet freed) and, for a dict, counts one off and an odd change
// sequence. The next process to take the lock gets sync.ErrOwnerDead, and
// acquire runs the container's repair (the dict recounts its entries and
// tombstones and evens its change sequence; a list checks its count against
// its slots) before anything else looks at it.

// container is what every container type holds: its heap, header and lock.
type container struct {
	heap    *shm.Heap
	off     int64
	hdr     *containerHeader
	mem     []byte // the whole heap block: offsets are checked against it
	views          // mem seen as the layouts that sit at heap offsets
	mu      *fsync.Mutex
	table   atomic.Pointer[slotCache]
	keyFP   uint64
	valFP   uint64
	seed    uint64       // dict: the hash seed, constant once made
	timeout atomic.Int64 // lock timeout in nanoseconds, 0: wait forever
	kind    shm.Kind
}

// bytes returns n bytes at heap offset off, checked against the heap block:
// an offset read from shared memory (an entry, an item) is checked here
// before it is used, so a corrupt one costs an error, never a fault. The
// heap's mapping stays valid as long as the region is open, so a stale
// offset (a block freed meanwhile) reads garbage, which the optimistic
// readers then discard.
func (c *container) bytes(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > int64(len(c.mem)) || n > int64(len(c.mem))-off {
		return nil, fmt.Errorf("%s: bytes [%d, +%d) outside the %d-byte heap: %w", kindName(c.kind), off, n, len(c.mem), ErrCorrupt)
	}
	return c.mem[off : off+n : off+n], nil
}

// views lay the containers' block layouts over the heap block once, as
// slices of cells, so that the hot paths reach an entry, item or slot array
// with a slice index: heap blocks start at 16-byte-aligned offsets, and an
// offset read from shared memory is checked (alignment, bounds) before its
// cell is taken.
type views struct {
	words   []atomic.Uint64 // 8-byte cells: the slots of slot arrays
	arrays  []slotArray     // 8-byte cells: slot array headers
	entries []entryHeader   // 16-byte cells: dict entry headers
	items   []itemHeader    // 8-byte cells: list item headers
}

func newViews(mem []byte) (views, error) {
	var v views
	var err [4]error
	v.words, err[0] = mapped.Slice[atomic.Uint64](mem, 0, len(mem)/8)
	v.arrays, err[1] = mapped.Slice[slotArray](mem, 0, len(mem)/slotsOffset)
	v.entries, err[2] = mapped.Slice[entryHeader](mem, 0, len(mem)/entData)
	v.items, err[3] = mapped.Slice[itemHeader](mem, 0, len(mem)/itemData)
	return v, errors.Join(err[:]...)
}

// cell returns the index of the size-byte cell at heap offset off, or an
// error if off is not a whole cell of the n there are.
func (c *container) cell(off, size int64, n int, what string) (int64, error) {
	if off < 0 || off%size != 0 || off/size >= int64(n) {
		return 0, fmt.Errorf("%s: %s at %d of the %d-byte heap: %w", kindName(c.kind), what, off, len(c.mem), ErrCorrupt)
	}
	return off / size, nil
}

func (c *container) slotArrayAt(off int64) (*slotArray, error) {
	i, err := c.cell(off, slotsOffset, len(c.arrays), "slot array")
	if err != nil {
		return nil, err
	}
	return &c.arrays[i], nil
}

func (c *container) entryAt(off int64) (*entryHeader, error) {
	i, err := c.cell(off, entData, len(c.entries), "entry")
	if err != nil {
		return nil, err
	}
	return &c.entries[i], nil
}

func (c *container) itemAt(off int64) (*itemHeader, error) {
	i, err := c.cell(off, itemData, len(c.items), "item")
	if err != nil {
		return nil, err
	}
	return &c.items[i], nil
}

// length reads the count word without the lock; 0 once closed. A count
// another process wrote over is capped at what the heap could hold (every
// entry or item is a heap block of more than minBlock bytes), so that a
// caller sizing something by Len allocates within the heap's bounds.
func (c *container) length() int {
	if c.open() != nil {
		return 0
	}
	return int(min(c.hdr.count.Load(), uint64(max(c.snapshotLimit(), 0)/minBlock)))
}

// minBlock is less than the heap bytes any entry or item takes: its own
// header and the heap's 16-byte block header.
const minBlock = 16

// open reports shm.ErrClosed once the region was closed in this process.
func (c *container) open() error {
	if c.heap.Block().Bytes() == nil {
		return fmt.Errorf("%s: %w", kindName(c.kind), shm.ErrClosed)
	}
	return nil
}

// newContainer allocates and initializes a header; the caller sets root
// and then calls publish.
func newContainer(h *shm.Heap, kind shm.Kind, keyFP, valFP uint64) (*container, error) {
	if h == nil {
		return nil, fmt.Errorf("new %s: nil heap: %w", kindName(kind), ErrHandle)
	}
	off, err := h.Alloc(hdrSize)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", kindName(kind), err)
	}
	c, err := bindContainer(h, off, kind)
	if err != nil {
		return nil, err
	}
	c.hdr.kind = kind
	c.hdr.version = ctVersion
	c.hdr.keyFP.Store(keyFP)
	c.hdr.valFP.Store(valFP)
	c.keyFP, c.valFP = keyFP, valFP
	return c, nil
}

// publish makes the header visible to Open: the magic is stored last.
func (c *container) publish() { c.hdr.magic.Store(ctMagic) }

func bindContainer(h *shm.Heap, off int64, kind shm.Kind) (*container, error) {
	if _, err := h.Bytes(off, hdrSize); err != nil {
		return nil, fmt.Errorf("bind %s: %w", kindName(kind), ErrHandle)
	}
	mem := h.Block().Bytes()
	hdr, err := mapped.At[containerHeader](mem, int(off))
	if err != nil {
		return nil, fmt.Errorf("bind %s: %v: %w", kindName(kind), err, ErrHandle)
	}
	v, err := newViews(mem)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", kindName(kind), err)
	}
	mu, err := fsync.MutexAt(h.Block(), off)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", kindName(kind), err)
	}
	return &container{heap: h, off: off, hdr: hdr, mem: mem, views: v, mu: mu, kind: kind}, nil
}

// openContainer checks a handle against the header it names.
func openContainer(hd Handle, kind shm.Kind, keyFP, valFP uint64) (*container, error) {
	what := kindName(kind)
	if hd.Kind != kind {
		return nil, fmt.Errorf("open %s: handle names a %s: %w", what, kindName(hd.Kind), ErrHandle)
	}
	if hd.Key != keyFP || hd.Value != valFP {
		return nil, fmt.Errorf("open %s: handle names other key or value types: %w", what, ErrHandle)
	}
	h, err := shm.OpenHeap(hd.Heap)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	if n, err := h.Cap(hd.Offset); err != nil || n < hdrSize {
		return nil, fmt.Errorf("open %s: offset %d is no container: %w", what, hd.Offset, ErrHandle)
	}
	c, err := bindContainer(h, hd.Offset, kind)
	if err != nil {
		return nil, err
	}
	if m := c.hdr.magic.Load(); m != ctMagic {
		return nil, fmt.Errorf("open %s: no container at offset %d: %w", what, hd.Offset, ErrHandle)
	}
	if err := c.hdr.Validate(kind, keyFP, valFP); err != nil {
		return nil, fmt.Errorf("open %s: offset %d: %w", what, hd.Offset, err)
	}
	c.keyFP, c.valFP = keyFP, valFP
	c.seed = c.hdr.seed.Load()
	return c, nil
}

func (c *container) handle() Handle {
	return Handle{Heap: c.heap.Handle(), Offset: c.off, Kind: c.kind, Key: c.keyFP, Value: c.valFP}
}

// recoveries counts the locks this process took over from dead holders.
var recoveries atomic.Int64

// acquire takes the container's lock, waiting until ctx ends or, if
// SetTimeout set one, the timeout passes (ErrTimeout); ctx's end returns
// ctx's error. repair runs when the previous holder died holding it, before
// anything else looks at the container. A lock word another process
// scribbled over (naming no process, say) is taken over like a dead
// holder's, repair included (package sync finds such a word dead), so it
// costs one nap, never a hang.
func (c *container) acquire(ctx context.Context, repair func() error) error {
	if err := c.open(); err != nil {
		return fmt.Errorf("lock %w", err)
	}
	var err error
	if t := c.timeout.Load(); t > 0 {
		tctx, cancel := context.WithTimeout(ctx, time.Duration(t))
		err = c.mu.LockContext(tctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = ErrTimeout
		}
	} else {
		err = c.mu.LockContext(ctx)
	}
	recovered := errors.Is(err, fsync.ErrOwnerDead)
	if err != nil && !recovered {
		return fmt.Errorf("lock %s: %w", kindName(c.kind), err)
	}
	if recovered {
		recoveries.Add(1)
	}
	if recovered && repair != nil {
		if err := repair(); err != nil {
			c.release(nil)
			return fmt.Errorf("repair %s after its lock holder died: %w", kindName(c.kind), err)
		}
	}
	if recovered {
		// Repaired: tell the robust lock (docs/robust.md), or its Unlock
		// would leave it unrecoverable. The word may have been scribbled
		// over since the takeover: then it is not this process's to
		// release, and the next locker takes it over again.
		testHookRepaired()
		if err := c.mu.TryMarkConsistent(); err != nil {
			if errors.Is(err, shm.ErrClosed) || c.open() != nil {
				return fmt.Errorf("lock %s: %w", kindName(c.kind), shm.ErrClosed)
			}
			return fmt.Errorf("lock %s: lock word changed by another process while held (%v): %w", kindName(c.kind), err, ErrCorrupt)
		}
	}
	return nil
}

// testHookRepaired runs between a repair and its mark; a test sets it to
// scribble the lock word there.
var testHookRepaired = func() {}

// release unlocks the container's lock and, if that fails, stores why in
// *errp unless it holds an error already (errp may be nil): defer it with
// the address of the caller's named error result.
//
// The lock word is shared memory: another process may have written over it
// while this one held the lock, and package sync's TryUnlock then returns
// ErrNotHeld (where Unlock would panic: a bug in a program that unlocks
// what it does not hold; here it is bytes this process did not write).
// That is turned into ErrCorrupt: the change made under the lock stands
// (it was published by its own atomic store), and the next locker takes
// the scribbled word over as a dead holder's and runs repair.
func (c *container) release(errp *error) {
	err := c.unlock()
	if err != nil && errp != nil && *errp == nil {
		*errp = err
	}
}

func (c *container) unlock() error {
	err := c.mu.TryUnlock()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, shm.ErrClosed) || c.open() != nil:
		return fmt.Errorf("unlock %s: %w", kindName(c.kind), shm.ErrClosed)
	}
	return fmt.Errorf("unlock %s: lock word changed by another process while held (%v): %w", kindName(c.kind), err, ErrCorrupt)
}

// slotCache remembers the last slot array this process checked, so that
// the common case (the table did not change) costs two loads, not a walk
// through the heap's block header.
type slotCache struct {
	root, n int64
	s       []atomic.Uint64
}

// slots returns the slots of the slotArray at heap offset root. Its
// capacity is checked against the heap block the first time this process
// sees (root, capacity), so a corrupt root yields an error, never a wild
// access.
func (c *container) slots(root int64) ([]atomic.Uint64, error) {
	arr, err := c.slotArrayAt(root)
	if err != nil {
		return nil, fmt.Errorf("%s table at %d: %w", kindName(c.kind), root, ErrCorrupt)
	}
	n := int64(arr.capacity.Load())
	if t := c.table.Load(); t != nil && t.root == root && t.n == n {
		return t.s, nil
	}
	blk, err := c.heap.Cap(root)
	if err != nil || n <= 0 || n > blk/8-1 {
		return nil, fmt.Errorf("%s table at %d: capacity %d: %w", kindName(c.kind), root, n, ErrCorrupt)
	}
	first := root/8 + 1
	if first+n > int64(len(c.words)) {
		return nil, fmt.Errorf("%s table at %d: capacity %d beyond the heap: %w", kindName(c.kind), root, n, ErrCorrupt)
	}
	s := c.words[first : first+n : first+n]
	c.table.Store(&slotCache{root, n, s})
	return s, nil
}

// snapshotLimit bounds the bytes a snapshot may copy: all the entries
// together cannot exceed the carved heap, unless the heap is corrupt (two
// slots naming one block), which must not exhaust this process's memory.
func (c *container) snapshotLimit() int64 {
	st, err := c.heap.Stats()
	if err != nil {
		return 0
	}
	return st.Carved
}

// newSlots allocates a zeroed slot array of capacity n.
func (c *container) newSlots(n int) (int64, []atomic.Uint64, error) {
	off, err := c.heap.Alloc(slotsOffset + 8*int64(n))
	if err != nil {
		return 0, nil, err
	}
	arr, err := c.slotArrayAt(off)
	if err != nil {
		return 0, nil, err
	}
	arr.capacity.Store(uint64(n))
	s, err := c.slots(off)
	return off, s, err
}

// SetTimeout bounds how long this process's operations on the container
// wait for its lock (0, the default: no bound; a holder that dies is
// detected and replaced within about 70 ms either way). Operations that
// time out fail with ErrTimeout and change nothing.
func (c *container) SetTimeout(d time.Duration) { c.timeout.Store(int64(d)) }
