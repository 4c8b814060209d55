package shared

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
	fsync "github.com/forkless-go/forkless/sync"
)

// Kinds of the containers' header blocks, in the containers' range.
const (
	KindDict          shm.Kind = 0x0400
	KindList          shm.Kind = 0x0401
	KindShareableList shm.Kind = 0x0402
	KindRecord        shm.Kind = 0x0403
)

// Handle names a container for another process: the heap it lives in and
// the offset of its header there, with its kind and the fingerprints of its
// key and value types. It is fixed-size and pointer-free, so it may be (a
// field of) a spawn argument or be stored in shared memory. Opening checks
// all of it against the header it names.
type Handle struct {
	Heap   shm.Handle
	Offset int64
	Kind   shm.Kind
	_      [6]byte
	Key    uint64
	Value  uint64
}

// Every container starts with this 128-byte header in a heap block:
//
//	offset size field   written by                 read by
//	     0    8 lock    a sync.Mutex (MutexAt)     every operation
//	    64    4 magic   constructor, last          Open ("SHCT")
//	    68    2 kind    constructor                Open
//	    70    2 version constructor                Open
//	    72    8 keyFP   constructor                Open: key type fingerprint
//	    80    8 valFP   constructor                Open: value type fingerprint
//	    88    8 root    updates, under the lock    operations, under the lock:
//	                                               heap offset of the table (dict)
//	                                               or slot array (list)
//	    96    8 count   updates, under the lock    Len (any time), operations
//	   104    8 aux     dict: tombstones; list: 1 if fixed length
//	   112    8 seed    constructor                dict: hash seed
//	   120    8 seq     dict writers, under the    dict: optimistic Get (seqlock):
//	                    lock (odd while changing)  unchanged and even = valid read
//
// The lock has its own cache line: waiters hammer it, readers of the other
// fields do not care.
const (
	hdrSize    = 128
	hdrLock    = 0
	hdrMagic   = 64
	hdrKind    = 68
	hdrVersion = 70
	hdrKeyFP   = 72
	hdrValFP   = 80
	hdrRoot    = 88
	hdrCount   = 96
	hdrAux     = 104
	hdrSeed    = 112
	hdrSeq     = 120

	ctMagic   = 0x54434853 // "SHCT"
	ctVersion = 1
)

// container is what every container type holds: its heap, header and lock.
type container struct {
	heap    *shm.Heap
	off     int64
	hdr     []byte
	mu      *fsync.Mutex
	timeout atomic.Int64 // lock timeout in nanoseconds, 0: wait forever
	kind    shm.Kind
}

func (c *container) word(off int64) *atomic.Uint64 {
	w, _ := c.heap.Uint64(c.off + off)
	return w
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
	le := binary.LittleEndian
	le.PutUint16(c.hdr[hdrKind:], uint16(kind))
	le.PutUint16(c.hdr[hdrVersion:], ctVersion)
	c.word(hdrKeyFP).Store(keyFP)
	c.word(hdrValFP).Store(valFP)
	return c, nil
}

// publish makes the header visible to Open: the magic is stored last.
func (c *container) publish() {
	c.wordPtr32(hdrMagic).Store(ctMagic)
}

func (c *container) wordPtr32(off int64) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&c.hdr[off]))
}

func bindContainer(h *shm.Heap, off int64, kind shm.Kind) (*container, error) {
	hdr, err := h.Bytes(off, hdrSize)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", kindName(kind), ErrHandle)
	}
	mu, err := fsync.MutexAt(h.Block(), off+hdrLock)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", kindName(kind), err)
	}
	return &container{heap: h, off: off, hdr: hdr, mu: mu, kind: kind}, nil
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
	le := binary.LittleEndian
	if m := c.wordPtr32(hdrMagic).Load(); m != ctMagic {
		return nil, fmt.Errorf("open %s: no container at offset %d: %w", what, hd.Offset, ErrHandle)
	}
	if k := shm.Kind(le.Uint16(c.hdr[hdrKind:])); k != kind {
		return nil, fmt.Errorf("open %s: offset %d holds a %s: %w", what, hd.Offset, kindName(k), ErrHandle)
	}
	if v := le.Uint16(c.hdr[hdrVersion:]); v != ctVersion {
		return nil, fmt.Errorf("open %s: layout version %d, this build reads %d: %w", what, v, ctVersion, ErrHandle)
	}
	if c.word(hdrKeyFP).Load() != keyFP || c.word(hdrValFP).Load() != valFP {
		return nil, fmt.Errorf("open %s: the container holds other key or value types: %w", what, ErrHandle)
	}
	return c, nil
}

func (c *container) handle() Handle {
	return Handle{Heap: c.heap.Handle(), Offset: c.off, Kind: c.kind, Key: c.word(hdrKeyFP).Load(), Value: c.word(hdrValFP).Load()}
}

// recoveries counts the locks this process took over from dead holders.
var recoveries atomic.Int64

// acquire takes the container's lock; repair runs when the previous holder
// died holding it, before anything else looks at the container.
func (c *container) acquire(repair func() error) error {
	if _, err := c.heap.Bytes(c.off, hdrSize); err != nil {
		return fmt.Errorf("lock %s: %w", kindName(c.kind), err)
	}
	var err error
	if t := c.timeout.Load(); t > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(t))
		err = c.mu.LockContext(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = ErrTimeout
		}
	} else {
		err = c.mu.Lock()
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
			c.mu.Unlock()
			return fmt.Errorf("repair %s after its lock holder died: %w", kindName(c.kind), err)
		}
	}
	return nil
}

func (c *container) release() { c.mu.Unlock() }

// slots returns the u64 array at heap offset root: word 0 holds its
// capacity n, words 1..n its slots. The capacity is checked against the
// block, so a corrupt root yields an error, never a wild access.
func (c *container) slots(root int64) ([]atomic.Uint64, error) {
	capw, err := c.heap.Uint64(root)
	if err != nil {
		return nil, fmt.Errorf("%s table at %d: %w", kindName(c.kind), root, ErrCorrupt)
	}
	n := capw.Load()
	blk, err := c.heap.Cap(root)
	if err != nil || n == 0 || n > uint64(blk/8-1) {
		return nil, fmt.Errorf("%s table at %d: capacity %d: %w", kindName(c.kind), root, n, ErrCorrupt)
	}
	b, err := c.heap.Bytes(root+8, int64(n)*8)
	if err != nil {
		return nil, fmt.Errorf("%s table at %d: %w", kindName(c.kind), root, ErrCorrupt)
	}
	return unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&b[0])), n), nil
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
	off, err := c.heap.Alloc(8 + 8*int64(n))
	if err != nil {
		return 0, nil, err
	}
	w, _ := c.heap.Uint64(off)
	w.Store(uint64(n))
	s, err := c.slots(off)
	return off, s, err
}

// SetTimeout bounds how long this process's operations on the container
// wait for its lock (0, the default: no bound; a holder that dies is
// detected and replaced within about 70 ms either way). Operations that
// time out fail with ErrTimeout and change nothing.
func (c *container) SetTimeout(d time.Duration) { c.timeout.Store(int64(d)) }

func kindName(k shm.Kind) string {
	switch k {
	case KindDict:
		return "dict"
	case KindList:
		return "list"
	case KindShareableList:
		return "shareable list"
	case KindRecord:
		return "record"
	}
	return k.String()
}

// hashKey is a seeded 64-bit hash, the same in every process (unlike
// hash/maphash, whose seeds are per process).
func hashKey(seed uint64, k []byte) uint64 {
	const m1, m2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	h := seed ^ uint64(len(k))*m1
	for len(k) >= 8 {
		hi, lo := bits.Mul64(h^binary.LittleEndian.Uint64(k), m2)
		h = hi ^ lo
		k = k[8:]
	}
	var t uint64
	for i, b := range k {
		t |= uint64(b) << (8 * i)
	}
	hi, lo := bits.Mul64(h^t^m1, m2^uint64(len(k)))
	h = hi ^ lo
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}
