package shared

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
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
	mem     []byte // the whole heap block: offsets are checked against it
	mu      *fsync.Mutex
	table   atomic.Pointer[slotCache]
	keyFP   uint64
	valFP   uint64
	seed    uint64       // dict: the hash seed, constant once made
	timeout atomic.Int64 // lock timeout in nanoseconds, 0: wait forever
	kind    shm.Kind
}

// word returns a header word. The header's bounds were checked when the
// container was bound; callers have checked that the region is open.
func (c *container) word(off int64) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&c.hdr[off]))
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

// u64 returns the word at heap offset off, checked like bytes.
func (c *container) u64(off int64) (*atomic.Uint64, error) {
	if off%8 != 0 {
		return nil, fmt.Errorf("%s: word at %d misaligned: %w", kindName(c.kind), off, ErrCorrupt)
	}
	b, err := c.bytes(off, 8)
	if err != nil {
		return nil, err
	}
	return (*atomic.Uint64)(unsafe.Pointer(&b[0])), nil
}

// length reads the count word without the lock; 0 once closed.
func (c *container) length() int {
	if c.open() != nil {
		return 0
	}
	return int(max(int64(c.word(hdrCount).Load()), 0))
}

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
	le := binary.LittleEndian
	le.PutUint16(c.hdr[hdrKind:], uint16(kind))
	le.PutUint16(c.hdr[hdrVersion:], ctVersion)
	c.word(hdrKeyFP).Store(keyFP)
	c.word(hdrValFP).Store(valFP)
	c.keyFP, c.valFP = keyFP, valFP
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
	return &container{heap: h, off: off, hdr: hdr, mem: h.Block().Bytes(), mu: mu, kind: kind}, nil
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
	c.keyFP, c.valFP = keyFP, valFP
	c.seed = c.word(hdrSeed).Load()
	return c, nil
}

func (c *container) handle() Handle {
	return Handle{Heap: c.heap.Handle(), Offset: c.off, Kind: c.kind, Key: c.keyFP, Value: c.valFP}
}

// recoveries counts the locks this process took over from dead holders.
var recoveries atomic.Int64

// acquire takes the container's lock; repair runs when the previous holder
// died holding it, before anything else looks at the container.
func (c *container) acquire(repair func() error) error {
	if err := c.open(); err != nil {
		return fmt.Errorf("lock %w", err)
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

// slotCache remembers the last slot array this process checked, so that
// the common case (the table did not change) costs two loads, not a walk
// through the heap's block header.
type slotCache struct {
	root, n int64
	s       []atomic.Uint64
}

// slots returns the u64 array at heap offset root: word 0 holds its
// capacity n, words 1..n its slots. The capacity is checked against the
// heap block the first time this process sees (root, n), so a corrupt root
// yields an error, never a wild access.
func (c *container) slots(root int64) ([]atomic.Uint64, error) {
	capw, err := c.u64(root)
	if err != nil {
		return nil, fmt.Errorf("%s table at %d: %w", kindName(c.kind), root, ErrCorrupt)
	}
	n := int64(capw.Load())
	if t := c.table.Load(); t != nil && t.root == root && t.n == n {
		return t.s, nil
	}
	blk, err := c.heap.Cap(root)
	if err != nil || n <= 0 || n > blk/8-1 {
		return nil, fmt.Errorf("%s table at %d: capacity %d: %w", kindName(c.kind), root, n, ErrCorrupt)
	}
	b, err := c.bytes(root+8, n*8)
	if err != nil {
		return nil, fmt.Errorf("%s table at %d: %w", kindName(c.kind), root, ErrCorrupt)
	}
	s := unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&b[0])), n)
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
	off, err := c.heap.Alloc(8 + 8*int64(n))
	if err != nil {
		return 0, nil, err
	}
	w, _ := c.u64(off)
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

// String returns the text form of a handle, for a process that is not a
// child (it opened a named manager's region with shm.Open) to receive on a
// command line or through a file:
//
//	shared:1:KIND:OFFSET:KEY:VALUE:HEAP
//
// KIND and OFFSET in decimal, the KEY and VALUE fingerprints in
// hexadecimal, HEAP the heap's shm.Handle in its own text form.
func (h Handle) String() string {
	return fmt.Sprintf("shared:1:%d:%d:%016x:%016x:%v", h.Kind, h.Offset, h.Key, h.Value, h.Heap)
}

// ParseHandle parses the text form made by Handle.String.
func ParseHandle(s string) (Handle, error) {
	f := strings.SplitN(s, ":", 7)
	if len(f) != 7 || f[0] != "shared" || f[1] != "1" {
		return Handle{}, fmt.Errorf("parse handle %q: not shared:1:...: %w", s, ErrHandle)
	}
	kind, err1 := strconv.ParseUint(f[2], 10, 16)
	off, err2 := strconv.ParseInt(f[3], 10, 64)
	key, err3 := strconv.ParseUint(f[4], 16, 64)
	val, err4 := strconv.ParseUint(f[5], 16, 64)
	heap, err5 := shm.ParseHandle(f[6])
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return Handle{}, fmt.Errorf("parse handle %q: %v: %w", s, err, ErrHandle)
	}
	return Handle{Heap: heap, Offset: off, Kind: shm.Kind(kind), Key: key, Value: val}, nil
}
