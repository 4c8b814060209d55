package shared

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// Dict is a hash map in shared memory, from K to V, that several processes
// read and change at once: Python's Manager().dict() without the server
// process. Any attached process binds it from its Handle with OpenDict.
// Keys are strings, byte slices (or types defined on them), or fixed-size,
// pointer-free types (integers, floats, arrays, structs of such), stored
// as their bytes and equal when their bytes are: Dict[int64, V] holds
// d[65] without strconv. Another key type is refused by NewDict and
// OpenDict with ErrEncode. Values are stored as bytes: fixed-size,
// pointer-free V as its own bytes, []byte and string as they are, anything
// else through a Codec (Gob unless WithCodec says otherwise).
//
// A dict keeps at most one entry block that a change replaced as a spare
// (containerHeader.spare) for the next Set from any process, so that a Set
// that keeps its value's size makes no heap allocation.
//
// Every change takes the dict's lock (robust: a holder that dies is
// replaced, see the package doc), so each is atomic with respect to the
// others, across processes; Get reads without it when no change overlaps
// (see Get), and Len reads one word. A Dict value is used by one process,
// by any number of goroutines.
type Dict[K, V any] struct {
	_  noCopy
	c  *container
	kc keyCodec[K]
	vc valueCodec[V]
	// popAt: the slot where this process's last PopItem found an entry,
	// where the next one starts looking.
	popAt atomic.Uint64
}

// NewDict makes an empty dict in heap h.
func NewDict[K, V any](h *shm.Heap, opts ...Option) (*Dict[K, V], error) {
	h, err := heapOrOwn(h, "new dict")
	if err != nil {
		return nil, err
	}
	kc, err := newKeyCodec[K]()
	if err != nil {
		return nil, fmt.Errorf("new dict: %w", err)
	}
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
	c.hdr.root.Store(uint64(root))
	c.seed = uint64(time.Now().UnixNano())*0x9e3779b97f4a7c15 | 1
	c.hdr.seed.Store(c.seed)
	c.publish()
	return &Dict[K, V]{c: c, kc: kc, vc: vc}, nil
}

// OpenDict binds a dict made by NewDict, here or in another process. The
// heap's region must be attached (spawn attaches the regions it shares);
// K and V (and the codec) must be those it was made with.
func OpenDict[K, V any](hd Handle, opts ...Option) (*Dict[K, V], error) {
	kc, err := newKeyCodec[K]()
	if err != nil {
		return nil, fmt.Errorf("open dict: %w", err)
	}
	vc := newValueCodec[V](opts)
	c, err := openContainer(hd, KindDict, typeFingerprint(reflect.TypeFor[K]()), vc.fp)
	if err != nil {
		return nil, err
	}
	return &Dict[K, V]{c: c, kc: kc, vc: vc}, nil
}

// Handle names the dict for another process.
func (d *Dict[K, V]) Handle() Handle { return d.c.handle() }

// SetTimeout bounds how long this process's operations wait for the lock.
// The XContext forms of the operations (SetContext, ...) also stop waiting
// when their context ends, returning its error; the dict is then unchanged.
func (d *Dict[K, V]) SetTimeout(t time.Duration) { d.c.SetTimeout(t) }

// Len returns the number of entries. It reads one word, without the lock;
// right after a process died mid-change it can be one off, until the next
// locked operation repairs the count.
func (d *Dict[K, V]) Len() int { return d.c.length() }

func (d *Dict[K, V]) lock(ctx context.Context) error { return d.c.acquire(ctx, d.repair) }

// wlock takes the lock for a change: the change sequence goes odd, and
// optimistic readers (see Get) keep off until wunlock makes it even again.
// Under the lock no change is under way, so an odd sequence found there was
// left by a dead writer (repair evens it) or written by another process
// over the word: it is evened first, else every Get would fall back on the
// lock from then on.
func (d *Dict[K, V]) wlock(ctx context.Context) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	if d.c.hdr.seq.Load()%2 != 0 {
		d.c.hdr.seq.Add(1)
	}
	d.c.hdr.seq.Add(1)
	return nil
}

// wunlock ends a change and releases the lock; a release that fails
// (ErrCorrupt: see container.release) is stored in *errp unless it holds
// an error already.
func (d *Dict[K, V]) wunlock(errp *error) {
	d.c.hdr.seq.Add(1)
	d.c.release(errp)
}

// Set stores v under k, replacing any value there. It fails with an error
// wrapping shm.ErrNoSpace when the heap is full; the dict is then unchanged
// and still works.
func (d *Dict[K, V]) Set(k K, v V) error { return d.SetContext(context.Background(), k, v) }

// SetContext is Set that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) SetContext(ctx context.Context, k K, v V) error {
	var key []byte
	if s, ok := any(&k).(*string); ok {
		key = []byte(*s) // not changed, not kept: no copy
	} else {
		key = d.kc.bytes(&k)
	}
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
	if err := d.wlock(ctx); err != nil {
		d.c.heap.Free(e)
		return fmt.Errorf("dict set: %w", err)
	}
	var unlockErr error // the entry is published even if this is set
	old, err := func() (int64, error) {
		defer d.wunlock(&unlockErr)
		return d.publish(h, key, e)
	}()
	if err != nil {
		d.c.heap.Free(e)
		return fmt.Errorf("dict set: %w", err)
	}
	d.recycle(old)
	if unlockErr != nil {
		return fmt.Errorf("dict set: %w", unlockErr)
	}
	return nil
}

// Delete removes k and reports whether it was there.
func (d *Dict[K, V]) Delete(k K) (bool, error) { return d.DeleteContext(context.Background(), k) }

// DeleteContext is Delete that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) DeleteContext(ctx context.Context, k K) (found bool, err error) {
	var key []byte
	if s, ok := any(&k).(*string); ok {
		key = []byte(*s) // not changed, not kept: no copy
	} else {
		key = d.kc.bytes(&k)
	}
	if err := d.wlock(ctx); err != nil {
		return false, fmt.Errorf("dict delete: %w", err)
	}
	defer d.wunlock(&err)
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
func (d *Dict[K, V]) Pop(k K) (V, bool, error) { return d.PopContext(context.Background(), k) }

// PopContext is Pop that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) PopContext(ctx context.Context, k K) (V, bool, error) {
	var v V
	var ok bool
	_, _, err := d.update(ctx, k, func(old V, found bool) (V, bool) {
		v, ok = old, found
		return old, false
	})
	return v, ok, err
}

// SetDefault returns the value under k if there is one (loaded true), and
// otherwise stores v and returns it, atomically: Python's dict.setdefault.
func (d *Dict[K, V]) SetDefault(k K, v V) (actual V, loaded bool, err error) {
	return d.SetDefaultContext(context.Background(), k, v)
}

// SetDefaultContext is SetDefault that stops waiting for the lock when ctx
// ends.
func (d *Dict[K, V]) SetDefaultContext(ctx context.Context, k K, v V) (actual V, loaded bool, err error) {
	actual, _, err = d.update(ctx, k, func(old V, ok bool) (V, bool) {
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
	return d.CompareAndSwapContext(context.Background(), k, old, new)
}

// CompareAndSwapContext is CompareAndSwap that stops waiting for the lock
// when ctx ends.
func (d *Dict[K, V]) CompareAndSwapContext(ctx context.Context, k K, old, new V) (swapped bool, err error) {
	ob, err := d.vc.encode(&old)
	if err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	ob = bytes.Clone(ob)
	var key []byte
	if s, ok := any(&k).(*string); ok {
		key = []byte(*s) // not changed, not kept: no copy
	} else {
		key = d.kc.bytes(&k)
	}
	nb, err := d.vc.encode(&new)
	if err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	if err := checkSizes(key, nb); err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	if err := d.wlock(ctx); err != nil {
		return false, fmt.Errorf("dict compare-and-swap: %w", err)
	}
	defer d.wunlock(&err)
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
	return d.update(context.Background(), k, fn)
}

// UpdateContext is Update that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) UpdateContext(ctx context.Context, k K, fn func(v V, ok bool) (nv V, keep bool)) (V, bool, error) {
	return d.update(ctx, k, fn)
}

func (d *Dict[K, V]) update(ctx context.Context, k K, fn func(v V, ok bool) (V, bool)) (_ V, _ bool, err error) {
	var v V
	var key []byte
	if s, ok := any(&k).(*string); ok {
		key = []byte(*s) // not changed, not kept: no copy
	} else {
		key = d.kc.bytes(&k)
	}
	if err := d.wlock(ctx); err != nil {
		return v, false, fmt.Errorf("dict update: %w", err)
	}
	defer d.wunlock(&err)
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
	return d.RangeContext(context.Background(), fn)
}

// RangeContext is Range that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) RangeContext(ctx context.Context, fn func(k K, v V) bool) error {
	snap, err := d.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("dict range: %w", err)
	}
	for i := range snap.items {
		k, v, err := snapEntry(d, &snap, i)
		if err != nil {
			return fmt.Errorf("dict range: %w", err)
		}
		if !fn(k, v) {
			return nil
		}
	}
	return nil
}

// Clear removes every entry. The new, empty table is published with one
// store, then the old entries are freed; a process killed while freeing
// them leaks the rest, and the dict is empty either way. If the heap has no
// room even for an empty table, the entries are removed one by one instead.
func (d *Dict[K, V]) Clear() error { return d.ClearContext(context.Background()) }

// ClearContext is Clear that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) ClearContext(ctx context.Context) (err error) {
	if err := d.wlock(ctx); err != nil {
		return fmt.Errorf("dict clear: %w", err)
	}
	defer d.wunlock(&err)
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
	oldRoot := int64(d.c.hdr.root.Load())
	d.c.hdr.root.Store(uint64(root)) // publish
	d.c.hdr.count.Store(0)
	d.c.hdr.tombs.Store(0)
	for i := range s {
		if v := s[i].Load(); v != slotEmpty && v != slotTomb {
			d.c.heap.Free(int64(v & slotOff))
		}
	}
	d.c.heap.Free(oldRoot)
	return nil
}
