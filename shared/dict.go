package shared

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// Key is the type of dict keys: strings or byte slices (or types defined
// on them). A key is stored as its bytes.
type Key interface{ ~string | ~[]byte }

// Dict is a hash map in shared memory, from K to V, that several processes
// read and change at once: Python's Manager().dict() without the server
// process. Any attached process binds it from its Handle with OpenDict.
// Values are stored as bytes: fixed-size, pointer-free V as its own bytes,
// []byte and string as they are, anything else through a Codec (Gob unless
// WithCodec says otherwise).
//
// Every change takes the dict's lock (robust: a holder that dies is
// replaced, see the package doc), so each is atomic with respect to the
// others, across processes; Get reads without it when no change overlaps
// (see Get), and Len reads one word. A Dict value is used by one process,
// by any number of goroutines.
type Dict[K Key, V any] struct {
	_  noCopy
	c  *container
	vc valueCodec[V]
}

// The table (at root) is a slot array, see container.slots. A slot holds
//
//	0                  empty: ends a probe sequence
//	1                  tombstone: a deleted entry, probing goes on
//	tag<<48 | offset   an entry: offset is its heap offset (below 2^40),
//	                   tag the top 16 bits of its key's hash, so most
//	                   mismatches are rejected without reading the entry
//
// Slots are written only under the lock, each with one atomic store: that
// store is the moment the change happens. An entry is immutable once
// published:
//
//	offset size field
//	     0    8 hash of the key (rebuilds rehash without reading the key)
//	     8    4 key length
//	    12    4 value length
//	    16      key bytes, then value bytes
//
// The table's capacity is a power of two; it is rebuilt (doubled, or at the
// same size to clear tombstones) when entries and tombstones would fill more
// than three quarters of it. The rebuild writes a whole new table, publishes
// it with one store of root, then frees the old one.
const (
	slotEmpty = 0
	slotTomb  = 1
	slotOff   = 1<<48 - 1

	entHash   = 0
	entKeyLen = 8
	entValLen = 12
	entData   = 16

	minTable = 8
)

// NewDict makes an empty dict in heap h.
func NewDict[K Key, V any](h *shm.Heap, opts ...Option) (*Dict[K, V], error) {
	vc := newValueCodec[V](opts)
	c, err := newContainer(h, KindDict, typeFingerprint(reflect.TypeFor[K]()), vc.fp)
	if err != nil {
		return nil, err
	}
	root, _, err := c.newSlots(minTable)
	if err != nil {
		h.Free(c.off)
		return nil, fmt.Errorf("new dict: %w", err)
	}
	c.word(hdrRoot).Store(uint64(root))
	c.seed = uint64(time.Now().UnixNano())*0x9e3779b97f4a7c15 | 1
	c.word(hdrSeed).Store(c.seed)
	c.publish()
	return &Dict[K, V]{c: c, vc: vc}, nil
}

// OpenDict binds a dict made by NewDict, here or in another process. The
// heap's region must be attached (spawn attaches the regions it shares);
// K and V (and the codec) must be those it was made with.
func OpenDict[K Key, V any](hd Handle, opts ...Option) (*Dict[K, V], error) {
	vc := newValueCodec[V](opts)
	c, err := openContainer(hd, KindDict, typeFingerprint(reflect.TypeFor[K]()), vc.fp)
	if err != nil {
		return nil, err
	}
	return &Dict[K, V]{c: c, vc: vc}, nil
}

// Handle names the dict for another process.
func (d *Dict[K, V]) Handle() Handle { return d.c.handle() }

// SetTimeout bounds how long this process's operations wait for the lock.
func (d *Dict[K, V]) SetTimeout(t time.Duration) { d.c.SetTimeout(t) }

// Len returns the number of entries. It reads one word, without the lock;
// right after a process died mid-change it can be one off, until the next
// locked operation repairs the count.
func (d *Dict[K, V]) Len() int { return d.c.length() }

func (d *Dict[K, V]) lock() error { return d.c.acquire(d.repair) }

// wlock takes the lock for a change: the change sequence goes odd, and
// optimistic readers (see Get) keep off until wunlock makes it even again.
func (d *Dict[K, V]) wlock() error {
	if err := d.lock(); err != nil {
		return err
	}
	d.c.word(hdrSeq).Add(1)
	return nil
}

func (d *Dict[K, V]) wunlock() {
	d.c.word(hdrSeq).Add(1)
	d.c.release()
}

// repair runs under the lock after a holder died in the middle of an
// update. Every slot store was atomic, so the table is intact; only the
// counts, stored after the slot, may be one off. They are recounted.
func (d *Dict[K, V]) repair() error {
	s, err := d.c.slots(int64(d.c.word(hdrRoot).Load()))
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
	d.c.word(hdrCount).Store(n)
	d.c.word(hdrAux).Store(tombs)
	if seq := d.c.word(hdrSeq); seq.Load()%2 != 0 {
		seq.Add(1) // the dead writer's change is over, as far as it got
	}
	return nil
}

func (d *Dict[K, V]) table() ([]atomic.Uint64, error) {
	return d.c.slots(int64(d.c.word(hdrRoot).Load()))
}

// entry returns the hash, key and value of the entry at off, in place.
func (d *Dict[K, V]) entry(off int64) (uint64, []byte, []byte, error) {
	hdr, err := d.c.bytes(off, entData)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("dict entry at %d: %w", off, ErrCorrupt)
	}
	le := binary.LittleEndian
	kl, vl := int64(le.Uint32(hdr[entKeyLen:])), int64(le.Uint32(hdr[entValLen:]))
	data, err := d.c.bytes(off+entData, kl+vl)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("dict entry at %d: %w", off, ErrCorrupt)
	}
	return le.Uint64(hdr[entHash:]), data[:kl], data[kl:], nil
}

// lookup probes for key. It returns the slot holding it (found), or else
// the slot where it would go (ins, -1 if the table has no free slot).
func (d *Dict[K, V]) lookup(s []atomic.Uint64, h uint64, key []byte) (i int, found bool, ins int, err error) {
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
			return i, false, ins, nil
		case v == slotTomb:
			if ins < 0 {
				ins = i
			}
		case v&^slotOff == tag:
			eh, ek, _, err := d.entry(int64(v & slotOff))
			if err != nil {
				return 0, false, 0, err
			}
			if eh == h && bytes.Equal(ek, key) {
				return i, true, ins, nil
			}
		}
		i = (i + 1) & mask
	}
	return -1, false, ins, nil
}

// rebuild moves every entry into a new table of capacity n and publishes
// it. A process killed before the publishing store leaks the new table and
// leaves the old one in use; after it, it leaks the old one.
func (d *Dict[K, V]) rebuild(old []atomic.Uint64, n int) ([]atomic.Uint64, error) {
	root, s, err := d.c.newSlots(n)
	if err != nil {
		return nil, err
	}
	mask := n - 1
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
				return nil, fmt.Errorf("dict rebuild: new table full: %w", ErrCorrupt)
			}
			j = (j + 1) & mask
		}
		s[j].Store(v)
	}
	oldRoot := int64(d.c.word(hdrRoot).Load())
	d.c.word(hdrRoot).Store(uint64(root)) // publish
	d.c.word(hdrAux).Store(0)
	d.c.heap.Free(oldRoot)
	return s, nil
}

// newEntry writes a new entry for key=val in a fresh heap block. It needs
// no lock: nobody else can reach the block until publish stores its offset.
func (d *Dict[K, V]) newEntry(h uint64, key, val []byte) (int64, error) {
	n := int64(entData + len(key) + len(val))
	e, err := d.c.heap.Alloc(n)
	if err != nil {
		return 0, err
	}
	b, err := d.c.bytes(e, n)
	if err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	le.PutUint64(b[entHash:], h)
	le.PutUint32(b[entKeyLen:], uint32(len(key)))
	le.PutUint32(b[entValLen:], uint32(len(val)))
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
	count, tombs := d.c.word(hdrCount).Load(), d.c.word(hdrAux).Load()
	if count > uint64(len(s)) || tombs > uint64(len(s)) {
		return 0, fmt.Errorf("dict of %d slots counts %d entries and %d tombstones: %w", len(s), count, tombs, ErrCorrupt)
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
	d.c.word(hdrCount).Add(1)
	if wasTomb {
		d.c.word(hdrAux).Add(^uint64(0))
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
	if old != 0 {
		d.c.heap.Free(old)
	}
	return nil
}

// remove deletes the entry in slot i under the lock: a tombstone replaces
// it with one store, then the entry is freed.
func (d *Dict[K, V]) remove(s []atomic.Uint64, i int) {
	old := s[i].Load()
	s[i].Store(slotTomb) // publish
	d.c.word(hdrCount).Add(^uint64(0))
	d.c.word(hdrAux).Add(1)
	d.c.heap.Free(int64(old & slotOff))
}

func checkSizes(key, val []byte) error {
	if n := int64(entData + len(key) + len(val)); n > shm.MaxHeapAlloc || len(key) > 1<<31 || len(val) > 1<<31 {
		return fmt.Errorf("%d-byte key and %d-byte value: %w", len(key), len(val), ErrTooLarge)
	}
	return nil
}

// Set stores v under k, replacing any value there. It fails with an error
// wrapping shm.ErrNoSpace when the heap is full; the dict is then unchanged
// and still works.
func (d *Dict[K, V]) Set(k K, v V) error {
	key := []byte(k)
	val, err := d.vc.encode(&v)
	if err != nil {
		return fmt.Errorf("dict set: %w", err)
	}
	if err := checkSizes(key, val); err != nil {
		return fmt.Errorf("dict set: %w", err)
	}
	// The entry is written before the lock is taken and the replaced one
	// freed after it is released: the critical section only probes and
	// publishes. An optimistic reader still looking at the replaced entry
	// while it is freed and reused sees the change sequence moved and
	// retries.
	h := hashKey(d.c.seed, key)
	e, err := d.newEntry(h, key, val)
	if err != nil {
		return fmt.Errorf("dict set: %w", err)
	}
	if err := d.wlock(); err != nil {
		d.c.heap.Free(e)
		return fmt.Errorf("dict set: %w", err)
	}
	old, err := func() (int64, error) {
		defer d.wunlock()
		return d.publish(h, key, e)
	}()
	if err != nil {
		d.c.heap.Free(e)
		return fmt.Errorf("dict set: %w", err)
	}
	if old != 0 {
		d.c.heap.Free(old)
	}
	return nil
}

// Get returns the value under k, and whether there was one.
//
// Get first reads without the lock, optimistically, as a seqlock reader:
// it loads the change sequence (hdrSeq), which writers make odd for the
// length of every change, does the lookup, copies the value out, and loads
// the sequence again. If it was even and unchanged, no change overlapped
// the read and the copy is the value (a lookup that wandered into a block
// being freed or reused read garbage, but the sequence moved, and the
// result is thrown away). Every offset it follows is bounds-checked by the
// heap, so garbage can cost a retry, never a fault. After a few failed
// tries (a writer is busy, or died mid-change and left the sequence odd)
// Get takes the lock, which also repairs after a dead writer.
func (d *Dict[K, V]) Get(k K) (V, bool, error) {
	var v V
	key := []byte(k)
	h := hashKey(d.c.seed, key)
	if !raceEnabled {
		for range 4 {
			found, ok, err := d.tryGet(key, h, &v)
			if !ok {
				runtime.Gosched()
				continue
			}
			if err != nil {
				return v, false, fmt.Errorf("dict get: %w", err)
			}
			return v, found, nil
		}
		var zero V
		v = zero
	}
	if err := d.lock(); err != nil {
		return v, false, fmt.Errorf("dict get: %w", err)
	}
	defer d.c.release()
	ok, err := d.get(key, &v)
	if err != nil {
		return v, false, fmt.Errorf("dict get: %w", err)
	}
	return v, ok, nil
}

// tryGet is one optimistic read into *v; ok reports whether it is valid.
// Values of fixed-size, []byte or string types are decoded straight from
// the shared bytes (a copy) and thrown away if the read was not valid;
// values of a Codec are copied out first and decoded only once the read is
// known to be valid, so a codec never sees garbage.
func (d *Dict[K, V]) tryGet(key []byte, h uint64, v *V) (found, ok bool, err error) {
	if d.c.open() != nil {
		return false, false, nil // closed: the locked path reports it
	}
	seq := d.c.word(hdrSeq)
	s1 := seq.Load()
	if s1%2 != 0 {
		return false, false, nil
	}
	s, err := d.table()
	if err != nil {
		return false, false, nil
	}
	i, found, _, err := d.lookup(s, h, key)
	if err != nil {
		return false, false, nil
	}
	var copied []byte
	var decErr error
	if found {
		e := int64(s[i].Load() & slotOff)
		_, k, val, err := d.entry(e)
		if err != nil {
			return false, false, nil
		}
		// A racy read may see garbage lengths; never copy more than the
		// entry's block holds.
		if n, err := d.c.heap.Cap(e); err != nil || int64(entData+len(k)+len(val)) > n {
			return false, false, nil
		}
		if d.vc.mode == modeCodec {
			copied = bytes.Clone(val)
		} else {
			decErr = d.vc.decode(val, v)
		}
	}
	if seq.Load() != s1 {
		return false, false, nil
	}
	if found && d.vc.mode == modeCodec {
		decErr = d.vc.decode(copied, v)
	}
	return found, true, decErr
}

func (d *Dict[K, V]) get(key []byte, v *V) (bool, error) {
	s, err := d.table()
	if err != nil {
		return false, err
	}
	i, found, _, err := d.lookup(s, hashKey(d.c.seed, key), key)
	if err != nil || !found {
		return false, err
	}
	_, _, val, err := d.entry(int64(s[i].Load() & slotOff))
	if err != nil {
		return false, err
	}
	return true, d.vc.decode(val, v)
}

// Delete removes k and reports whether it was there.
func (d *Dict[K, V]) Delete(k K) (bool, error) {
	key := []byte(k)
	if err := d.wlock(); err != nil {
		return false, fmt.Errorf("dict delete: %w", err)
	}
	defer d.wunlock()
	s, err := d.table()
	if err != nil {
		return false, fmt.Errorf("dict delete: %w", err)
	}
	i, found, _, err := d.lookup(s, hashKey(d.c.seed, key), key)
	if err != nil {
		return false, fmt.Errorf("dict delete: %w", err)
	}
	if found {
		d.remove(s, i)
	}
	return found, nil
}

// Pop removes k and returns the value it had, as Python's dict.pop.
func (d *Dict[K, V]) Pop(k K) (V, bool, error) {
	var v V
	var ok bool
	_, _, err := d.update(k, func(old V, found bool) (V, bool) {
		v, ok = old, found
		return old, false
	})
	return v, ok, err
}

// SetDefault returns the value under k if there is one (loaded true), and
// otherwise stores v and returns it, atomically: Python's dict.setdefault.
func (d *Dict[K, V]) SetDefault(k K, v V) (actual V, loaded bool, err error) {
	actual, _, err = d.update(k, func(old V, ok bool) (V, bool) {
		loaded = ok
		if ok {
			return old, true
		}
		return v, true
	})
	return actual, loaded, err
}

// CompareAndSwap stores new under k if k holds old now (compared as
// encoded bytes), and reports whether it did.
func (d *Dict[K, V]) CompareAndSwap(k K, old, new V) (bool, error) {
	ob, err := d.vc.encode(&old)
	if err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	ob = bytes.Clone(ob)
	key := []byte(k)
	nb, err := d.vc.encode(&new)
	if err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	if err := checkSizes(key, nb); err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	if err := d.wlock(); err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	defer d.wunlock()
	s, err := d.table()
	if err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	i, found, _, err := d.lookup(s, hashKey(d.c.seed, key), key)
	if err != nil || !found {
		return false, err
	}
	_, _, cur, err := d.entry(int64(s[i].Load() & slotOff))
	if err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	if !bytes.Equal(cur, ob) {
		return false, nil
	}
	if err := d.put(key, nb); err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	return true, nil
}

// Update calls fn with the value under k (and whether there is one) while
// holding the dict's lock, and stores what fn returns; if fn returns
// keep == false, k is deleted instead. It returns the stored value and
// keep. fn must be short and must not use the dict (the lock is held);
// if fn panics, the dict is unchanged.
func (d *Dict[K, V]) Update(k K, fn func(v V, ok bool) (nv V, keep bool)) (V, bool, error) {
	return d.update(k, fn)
}

func (d *Dict[K, V]) update(k K, fn func(v V, ok bool) (V, bool)) (V, bool, error) {
	var v V
	key := []byte(k)
	if err := d.wlock(); err != nil {
		return v, false, fmt.Errorf("dict update: %w", err)
	}
	defer d.wunlock()
	s, err := d.table()
	if err != nil {
		return v, false, fmt.Errorf("dict update: %w", err)
	}
	i, found, _, err := d.lookup(s, hashKey(d.c.seed, key), key)
	if err != nil {
		return v, false, fmt.Errorf("dict update: %w", err)
	}
	if found {
		_, _, cur, err := d.entry(int64(s[i].Load() & slotOff))
		if err == nil {
			err = d.vc.decode(cur, &v)
		}
		if err != nil {
			return v, false, fmt.Errorf("dict update: %w", err)
		}
	}
	nv, keep := fn(v, found)
	if !keep {
		if found {
			d.remove(s, i)
		}
		return nv, false, nil
	}
	nb, err := d.vc.encode(&nv)
	if err == nil {
		err = checkSizes(key, nb)
	}
	if err == nil {
		err = d.put(key, nb)
	}
	if err != nil {
		return nv, false, fmt.Errorf("dict update: %w", err)
	}
	return nv, true, nil
}

// Range calls fn for every entry of a snapshot taken atomically under the
// lock (so it sees the dict as it was at one moment), in no particular
// order, until fn returns false. fn runs without the lock and may use the
// dict.
func (d *Dict[K, V]) Range(fn func(k K, v V) bool) error {
	type item struct{ start, kl, vl int }
	var items []item
	var buf []byte
	if err := d.lock(); err != nil {
		return fmt.Errorf("dict range: %w", err)
	}
	err := func() error {
		defer d.c.release()
		s, err := d.table()
		if err != nil {
			return err
		}
		items = make([]item, 0, min(d.c.word(hdrCount).Load(), uint64(len(s))))
		limit := d.c.snapshotLimit()
		for i := range s {
			v := s[i].Load()
			if v == slotEmpty || v == slotTomb {
				continue
			}
			_, k, val, err := d.entry(int64(v & slotOff))
			if err != nil {
				return err
			}
			if int64(len(buf)+len(k)+len(val)) > limit {
				return fmt.Errorf("snapshot of %d bytes exceeds the heap's %d: %w", len(buf)+len(k)+len(val), limit, ErrCorrupt)
			}
			items = append(items, item{len(buf), len(k), len(val)})
			buf = append(buf, k...)
			buf = append(buf, val...)
		}
		return nil
	}()
	if err != nil {
		return fmt.Errorf("dict range: %w", err)
	}
	for _, it := range items {
		var v V
		if err := d.vc.decode(buf[it.start+it.kl:it.start+it.kl+it.vl], &v); err != nil {
			return fmt.Errorf("dict range: %w", err)
		}
		if !fn(K(bytes.Clone(buf[it.start:it.start+it.kl])), v) {
			return nil
		}
	}
	return nil
}

// Clear removes every entry. The new, empty table is published with one
// store, then the old entries are freed; a process killed while freeing
// them leaks the rest, and the dict is empty either way. If the heap has no
// room even for an empty table, the entries are removed one by one instead.
func (d *Dict[K, V]) Clear() error {
	if err := d.wlock(); err != nil {
		return fmt.Errorf("dict clear: %w", err)
	}
	defer d.wunlock()
	s, err := d.table()
	if err != nil {
		return fmt.Errorf("dict clear: %w", err)
	}
	root, _, err := d.c.newSlots(minTable)
	if errors.Is(err, shm.ErrNoSpace) {
		for i := range s {
			if v := s[i].Load(); v != slotEmpty && v != slotTomb {
				d.remove(s, i)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("dict clear: %w", err)
	}
	oldRoot := int64(d.c.word(hdrRoot).Load())
	d.c.word(hdrRoot).Store(uint64(root)) // publish
	d.c.word(hdrCount).Store(0)
	d.c.word(hdrAux).Store(0)
	for i := range s {
		if v := s[i].Load(); v != slotEmpty && v != slotTomb {
			d.c.heap.Free(int64(v & slotOff))
		}
	}
	d.c.heap.Free(oldRoot)
	return nil
}
