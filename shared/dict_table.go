package shared

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"

	"github.com/forkless-go/forkless/shm"
)

// The dict's table: probing, publishing, removing and rebuilding, all under
// the lock, each change published by one atomic store (see container.go).

// The table (at root) is an open-addressing hash table, linear probing
// with tombstones: a slotArray of dict slots (see there) whose entries are
// entryHeader blocks. The table's capacity is a power of two; it is
// rebuilt (doubled, or at the same size to clear tombstones) when entries
// and tombstones would fill more than three quarters of it. The rebuild
// writes a whole new table, publishes it with one store of root, then frees
// the old one.
const (
	slotEmpty = 0
	slotTomb  = 1
	slotOff   = 1<<48 - 1

	minTable = 8
)

// repair runs under the lock after a holder died in the middle of an
// update. Every slot store was atomic, so the table is intact; only the
// counts, stored after the slot, may be one off. They are recounted.
func (d *Dict[K, V]) repair() error {
	if err := d.recount(); err != nil {
		return err
	}
	if seq := &d.c.hdr.seq; seq.Load()%2 != 0 {
		seq.Add(1) // the dead writer's change is over, as far as it got
	}
	return nil
}

// recount stores the entries and tombstones the table holds as its counts,
// under the lock.
func (d *Dict[K, V]) recount() error {
	s, err := d.table()
	if err != nil {
		return err
	}
	var n, tombs uint64
	for i := range s {
		switch v := s[i].Load(); v {
		case slotEmpty:
		case slotTomb:
			tombs++
		default:
			n++
		}
	}
	d.c.hdr.count.Store(n)
	d.c.hdr.tombs.Store(tombs)
	return nil
}

// table returns the dict's slots. Their number must be a power of two (the
// probes mask with it): another count was written by another process.
func (d *Dict[K, V]) table() ([]atomic.Uint64, error) {
	s, err := d.c.slots(int64(d.c.hdr.root.Load()))
	if err == nil && len(s)&(len(s)-1) != 0 {
		err = fmt.Errorf("dict table of %d slots, not a power of two: %w", len(s), ErrCorrupt)
	}
	return s, err
}

// entryHead loads the hash and the key and value lengths of the entry at
// off, with atomic loads (see Dict.tryGet), and checks that its key and
// value lie in the heap: a stale or corrupt entry costs an error, never a
// fault.
func (d *Dict[K, V]) entryHead(off int64) (h uint64, kl, vl int64, err error) {
	e, err := d.c.entryAt(off)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("dict entry at %d: %w", off, ErrCorrupt)
	}
	h, kl, vl = e.hash.Load(), int64(e.keyLen.Load()), int64(e.valLen.Load())
	if kl+vl > int64(len(d.c.mem))-(off+entData) { // entryAt checked off
		return 0, 0, 0, fmt.Errorf("dict entry at %d: %d+%d bytes: %w", off, kl, vl, ErrCorrupt)
	}
	return h, kl, vl, nil
}

// entry returns the hash, key and value of the entry at off, in place: for
// readers under the lock, which no writer can race.
func (d *Dict[K, V]) entry(off int64) (uint64, []byte, []byte, error) {
	h, kl, vl, err := d.entryHead(off)
	if err != nil {
		return 0, nil, nil, err
	}
	data, _ := d.c.bytes(off+entData, kl+vl) // checked by entryHead
	return h, data[:kl], data[kl:], nil
}

// lookup probes for key. It returns the slot holding it (found), or else
// the slot where it would go (ins, -1 if the table has no free slot).
func (d *Dict[K, V]) lookup(s []atomic.Uint64, h uint64, key []byte) (i int, found bool, ins int, err error) {
	i, found, ins, _, err = d.probe(s, h, key)
	return i, found, ins, err
}

// entryRef is where probe found an entry: its heap offset and the
// lengths of its key and value, as loaded.
type entryRef struct{ off, kl, vl int64 }

// probe is lookup, and also returns the entry it found. It reads only
// with atomic loads, so that Get's lock-free read may use it (see
// Dict.tryGet).
func (d *Dict[K, V]) probe(s []atomic.Uint64, h uint64, key []byte) (i int, found bool, ins int, hit entryRef, err error) {
	mask := len(s) - 1
	tag := h >> 48 << 48
	ins = -1
	i = int(h) & mask
	for range len(s) {
		v := s[i].Load()
		switch {
		case v == slotEmpty:
			if ins < 0 {
				ins = i
			}
			return i, false, ins, hit, nil
		case v == slotTomb:
			if ins < 0 {
				ins = i
			}
		case v&^slotOff == tag:
			e := int64(v & slotOff)
			eh, kl, vl, err := d.entryHead(e)
			if err != nil {
				return 0, false, 0, hit, err
			}
			if eh == h && kl == int64(len(key)) && d.c.equalBytes(e+entData, key) {
				return i, true, ins, entryRef{e, kl, vl}, nil
			}
		}
		i = (i + 1) & mask
	}
	return -1, false, ins, hit, nil
}

// rebuild moves every entry into a new table of capacity n and publishes
// it, with the count of what it moved (a count another process wrote over
// is righted here too). A process killed before the publishing store leaks
// the new table and leaves the old one in use; after it, it leaks the old
// one.
func (d *Dict[K, V]) rebuild(old []atomic.Uint64, n int) ([]atomic.Uint64, error) {
	root, s, err := d.c.newSlots(n)
	if err != nil {
		return nil, err
	}
	mask := n - 1
	var moved uint64
	for i := range old {
		v := old[i].Load()
		if v == slotEmpty || v == slotTomb {
			continue
		}
		h, _, _, err := d.entry(int64(v & slotOff))
		if err != nil {
			d.c.heap.Free(root)
			return nil, err
		}
		j := int(h) & mask
		for k := 0; s[j].Load() != slotEmpty; k++ {
			if k == n {
				// Only a corrupt heap (a new table overlapping the
				// old) could fill it.
				d.c.heap.Free(root)
				return nil, fmt.Errorf("dict rebuild: new table full: %w", ErrCorrupt)
			}
			j = (j + 1) & mask
		}
		s[j].Store(v)
		moved++
	}
	oldRoot := int64(d.c.hdr.root.Load())
	d.c.hdr.root.Store(uint64(root)) // publish
	d.c.hdr.count.Store(moved)
	d.c.hdr.tombs.Store(0)
	d.c.heap.Free(oldRoot)
	return s, nil
}

// newEntry writes a new entry for key=val in a fresh heap block. It needs
// no lock: nobody else can reach the block until publish stores its offset.
func (d *Dict[K, V]) newEntry(h uint64, key, val []byte) (int64, error) {
	n := int64(entData + len(key) + len(val))
	e := d.takeSpare(n)
	if e == 0 {
		var err error
		if e, err = d.c.heap.Alloc(n); err != nil {
			return 0, err
		}
	}
	b, err := d.c.bytes(e, n)
	_, err2 := d.c.entryAt(e) // checks the cell the header's bytes are
	if err = errors.Join(err, err2); err != nil {
		d.c.heap.Free(e)
		return 0, err
	}
	// The header's atomic fields are written as bytes, in the layout
	// their loads read (native byte order, pinned offsets): the block is
	// this process's alone until publish's slot store, which releases
	// these stores with the key's and value's, and an atomic Store here
	// would be an XCHG each on amd64 for nothing.
	binary.NativeEndian.PutUint64(b[0:], h)
	binary.NativeEndian.PutUint32(b[8:], uint32(len(key)))
	binary.NativeEndian.PutUint32(b[12:], uint32(len(val)))
	copy(b[entData:], key)
	copy(b[entData+len(key):], val)
	return e, nil
}

// publish makes entry e (for key, of hash h) the dict's entry for key,
// under the lock, with one atomic store into its slot, and returns the
// entry it replaced (0 if none) for the caller to free once nobody can
// reach it. A process killed at any point leaves the old value or the new
// one in the table (and at worst leaks an entry). If the table must grow
// and the heap has no room, nothing changes and the error says so.
func (d *Dict[K, V]) publish(h uint64, key []byte, e int64) (old int64, err error) {
	s, err := d.table()
	if err != nil {
		return 0, err
	}
	i, found, ins, err := d.lookup(s, h, key)
	if err != nil {
		return 0, err
	}
	slot := h>>48<<48 | uint64(e)
	if found {
		prev := s[i].Load()
		s[i].Store(slot) // publish: the change happens here
		return int64(prev & slotOff), nil
	}
	count, tombs := d.c.hdr.count.Load(), d.c.hdr.tombs.Load()
	if count > uint64(len(s)) || tombs > uint64(len(s)) {
		// Counts no table of this size can hold: written over by another
		// process. They are the slots' to tell, and the lock is held.
		if err := d.recount(); err != nil {
			return 0, err
		}
		count, tombs = d.c.hdr.count.Load(), d.c.hdr.tombs.Load()
	}
	if ins < 0 || (count+tombs+1)*4 > uint64(len(s))*3 {
		n := len(s)
		for (count+1)*2 > uint64(n) {
			n *= 2
		}
		if s, err = d.rebuild(s, n); err != nil {
			return 0, err
		}
		if _, _, ins, err = d.lookup(s, h, key); err != nil {
			return 0, err
		}
		if ins < 0 {
			return 0, fmt.Errorf("dict table full after a rebuild (count %d): %w", count, ErrCorrupt)
		}
	}
	wasTomb := s[ins].Load() == slotTomb
	s[ins].Store(slot) // publish
	d.c.hdr.count.Add(1)
	if wasTomb {
		d.c.hdr.tombs.Add(^uint64(0))
	}
	return 0, nil
}

// put stores key=val, under the lock (for Update and CompareAndSwap).
func (d *Dict[K, V]) put(key, val []byte) error {
	h := hashKey(d.c.seed, key)
	e, err := d.newEntry(h, key, val)
	if err != nil {
		return err
	}
	old, err := d.publish(h, key, e)
	if err != nil {
		d.c.heap.Free(e)
		return err
	}
	d.recycle(old)
	return nil
}

// takeSpare returns the dict's spare entry block if it holds n bytes (else
// frees it), or 0. The word is shared memory: a block that is not one in
// use in the heap is left alone (it leaks, as a crash would leak it).
func (d *Dict[K, V]) takeSpare(n int64) int64 {
	if d.c.open() != nil {
		return 0 // Alloc says why
	}
	sp := int64(d.c.hdr.spare.Swap(0))
	if sp == 0 {
		return 0
	}
	c, err := d.c.heap.Cap(sp)
	if err != nil || c < n {
		if err == nil {
			d.c.heap.Free(sp)
		}
		return 0
	}
	if _, err := d.c.bytes(sp, n); err != nil {
		return 0
	}
	if _, err := d.c.entryAt(sp); err != nil {
		return 0
	}
	return sp
}

// recycle parks entry block off (0: none) as the dict's spare if it has
// none, else frees it. Nobody can reach off any more: its slot was changed
// under the lock, and an optimistic reader still looking at it sees the
// change sequence moved.
func (d *Dict[K, V]) recycle(off int64) {
	if off != 0 && !d.c.hdr.spare.CompareAndSwap(0, uint64(off)) {
		d.c.heap.Free(off)
	}
}

// remove deletes the entry in slot i under the lock: a tombstone replaces
// it with one store, then the entry is freed.
func (d *Dict[K, V]) remove(s []atomic.Uint64, i int) {
	old := s[i].Load()
	s[i].Store(slotTomb) // publish
	d.c.hdr.count.Add(^uint64(0))
	d.c.hdr.tombs.Add(1)
	d.c.heap.Free(int64(old & slotOff))
}

func checkSizes(key, val []byte) error {
	if n := int64(entData + len(key) + len(val)); n > shm.MaxHeapAlloc || len(key) > 1<<31 || len(val) > 1<<31 {
		return fmt.Errorf("%d-byte key and %d-byte value: %w", len(key), len(val), ErrTooLarge)
	}
	return nil
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
