package shared

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// List is a growable sequence of V in shared memory that several processes
// read and change at once: Python's Manager().list() without the server.
// Values are stored as Dict stores them. Indexes may be negative, counting
// from the end, as in Python. Every operation takes the list's robust lock.
//
// A process killed at any instruction leaves the old list or the new one,
// and at worst leaks an item.
type List[V any] struct {
	_  noCopy
	c  *container
	vc valueCodec[V]
}

// NewList makes an empty list in heap h.
func NewList[V any](h *shm.Heap, opts ...Option) (*List[V], error) {
	h, err := heapOrOwn(h, "new list")
	if err != nil {
		return nil, err
	}
	l, err := newList[V](h, KindList, 8, opts)
	if err != nil {
		return nil, err
	}
	l.c.publish()
	return l, nil
}

func newList[V any](h *shm.Heap, kind shm.Kind, capacity int, opts []Option) (*List[V], error) {
	vc := newValueCodec[V](opts)
	c, err := newContainer(h, kind, 0, vc.fp)
	if err != nil {
		return nil, err
	}
	root, _, err := c.newSlots(max(capacity, 1))
	if err != nil {
		h.Free(c.off)
		return nil, fmt.Errorf("new %s: %w", kindName(kind), err)
	}
	c.hdr.root.Store(uint64(root))
	return &List[V]{c: c, vc: vc}, nil
}

// OpenList binds a list made by NewList, here or in another process.
func OpenList[V any](hd Handle, opts ...Option) (*List[V], error) {
	return openList[V](hd, KindList, opts)
}

func openList[V any](hd Handle, kind shm.Kind, opts []Option) (*List[V], error) {
	vc := newValueCodec[V](opts)
	c, err := openContainer(hd, kind, 0, vc.fp)
	if err != nil {
		return nil, err
	}
	return &List[V]{c: c, vc: vc}, nil
}

// Handle names the list for another process.
func (l *List[V]) Handle() Handle { return l.c.handle() }

// SetTimeout bounds how long this process's operations wait for the lock.
// The XContext forms of the operations (AppendContext, ...) also stop
// waiting when their context ends, returning its error; the list is then
// unchanged.
func (l *List[V]) SetTimeout(t time.Duration) { l.c.SetTimeout(t) }

// Len returns the list's length. It reads one word, without the lock.
func (l *List[V]) Len() int { return l.c.length() }

// A list's root is a slotArray whose first count slots hold the heap
// offsets of its items (itemHeader blocks, immutable once published). Every
// change is published by one atomic store:
//
//	Append  items written out of place, stored in the slots past the end,
//	        then count stored (a grown slot array is published first)
//	Set     new item written, then its offset stored in the slot, then
//	        the old item freed
//	Pop     count stored one less, then the item freed
//	Clear   count stored 0, then the items freed
//
//	Insert, PopAt, Remove (but of the last item)
//	        a new slot array built, then journaled, root and count
//	        stored, the journal cleared (see commit)
//
// After a holder died, repairList finishes a journaled change; every other
// change was one store. The count is checked against the slot array.
func (l *List[V]) lock(ctx context.Context) error {
	return l.c.acquire(ctx, l.repairList)
}

// sharedSlot is a slot of a slot array.
type sharedSlot = atomic.Uint64

// state returns the slot array and the length, checked against each other.
func (l *List[V]) state() ([]atomic.Uint64, int, error) {
	s, err := l.c.slots(int64(l.c.hdr.root.Load()))
	if err != nil {
		return nil, 0, err
	}
	n := l.c.hdr.count.Load()
	// A Record holds one item once made (published); before, it is filled.
	if n > uint64(len(s)) || (l.c.kind == KindRecord && n != 1 && l.c.hdr.magic.Load() == ctMagic) {
		return nil, 0, fmt.Errorf("%s length %d, capacity %d: %w", kindName(l.c.kind), n, len(s), ErrCorrupt)
	}
	return s, int(n), nil
}

func (l *List[V]) index(i, n int) (int, error) {
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return 0, fmt.Errorf("index %d of a %d-item %s: %w", i, n, kindName(l.c.kind), ErrIndex)
	}
	return i, nil
}

// newItem writes b into a new heap block and returns its offset.
func (l *List[V]) newItem(b []byte) (int64, error) {
	if int64(len(b))+itemData > shm.MaxHeapAlloc {
		return 0, fmt.Errorf("%d-byte value: %w", len(b), ErrTooLarge)
	}
	off, err := l.c.heap.Alloc(itemData + int64(len(b)))
	if err != nil {
		return 0, err
	}
	mem, err := l.c.bytes(off, itemData+int64(len(b)))
	hdr, err2 := l.c.itemAt(off)
	if err = errors.Join(err, err2); err != nil {
		l.c.heap.Free(off)
		return 0, err
	}
	hdr.length = uint64(len(b))
	copy(mem[itemData:], b)
	return off, nil
}

func (l *List[V]) item(off int64) ([]byte, error) {
	hdr, err := l.c.itemAt(off)
	if err != nil {
		return nil, fmt.Errorf("%s item at %d: %w", kindName(l.c.kind), off, ErrCorrupt)
	}
	b, err := l.c.bytes(off+itemData, int64(hdr.length))
	if err != nil {
		return nil, fmt.Errorf("%s item at %d: %w", kindName(l.c.kind), off, ErrCorrupt)
	}
	return b, nil
}

// Append adds vs at the end, all at once: other processes see none of
// them or all. It fails with an error wrapping shm.ErrNoSpace when the heap
// is full; the list is then unchanged.
func (l *List[V]) Append(vs ...V) error { return l.AppendContext(context.Background(), vs...) }

// AppendContext is Append that stops waiting for the lock when ctx ends.
func (l *List[V]) AppendContext(ctx context.Context, vs ...V) (err error) {
	if l.c.kind != KindList {
		return fmt.Errorf("%s append: %w", kindName(l.c.kind), ErrFixed)
	}
	if err := l.lock(ctx); err != nil {
		return fmt.Errorf("list append: %w", err)
	}
	defer l.c.release(&err)
	if err := l.appendLocked(vs); err != nil {
		return fmt.Errorf("list append: %w", err)
	}
	return nil
}

func (l *List[V]) appendLocked(vs []V) error {
	s, n, err := l.state()
	if err != nil {
		return err
	}
	offs := make([]int64, 0, len(vs))
	fail := func(err error) error {
		for _, o := range offs {
			l.c.heap.Free(o)
		}
		return err
	}
	for i := range vs {
		b, err := l.vc.encode(&vs[i])
		if err != nil {
			return fail(err)
		}
		off, err := l.newItem(b)
		if err != nil {
			return fail(err)
		}
		offs = append(offs, off)
	}
	if n+len(offs) > len(s) {
		c := len(s)
		for n+len(offs) > c {
			c *= 2
		}
		root, ns, err := l.c.newSlots(c)
		if err != nil {
			return fail(err)
		}
		for i := range n {
			ns[i].Store(s[i].Load())
		}
		oldRoot := int64(l.c.hdr.root.Load())
		l.c.hdr.root.Store(uint64(root)) // publish the bigger array
		l.c.heap.Free(oldRoot)
		s = ns
	}
	for i, off := range offs {
		s[n+i].Store(uint64(off))
	}
	l.c.hdr.count.Store(uint64(n + len(offs))) // publish the items
	return nil
}

// Get returns item i.
func (l *List[V]) Get(i int) (V, error) { return l.GetContext(context.Background(), i) }

// GetContext is Get that stops waiting for the lock when ctx ends.
func (l *List[V]) GetContext(ctx context.Context, i int) (_ V, err error) {
	var v V
	if err := l.lock(ctx); err != nil {
		return v, fmt.Errorf("%s get: %w", kindName(l.c.kind), err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	if err == nil {
		i, err = l.index(i, n)
	}
	var b []byte
	if err == nil {
		b, err = l.item(int64(s[i].Load()))
	}
	if err == nil {
		err = l.vc.decode(b, &v)
	}
	if err != nil {
		return v, fmt.Errorf("%s get: %w", kindName(l.c.kind), err)
	}
	return v, nil
}

// Set replaces item i with v.
func (l *List[V]) Set(i int, v V) error { return l.SetContext(context.Background(), i, v) }

// SetContext is Set that stops waiting for the lock when ctx ends.
func (l *List[V]) SetContext(ctx context.Context, i int, v V) (err error) {
	b, err := l.vc.encode(&v)
	if err != nil {
		return fmt.Errorf("%s set: %w", kindName(l.c.kind), err)
	}
	if err := l.lock(ctx); err != nil {
		return fmt.Errorf("%s set: %w", kindName(l.c.kind), err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	if err == nil {
		i, err = l.index(i, n)
	}
	var off int64
	if err == nil {
		off, err = l.newItem(b)
	}
	if err != nil {
		return fmt.Errorf("%s set: %w", kindName(l.c.kind), err)
	}
	old := s[i].Load()
	s[i].Store(uint64(off)) // publish
	l.c.heap.Free(int64(old))
	return nil
}

// Update replaces item i with fn(item i), under the lock. fn must be short
// and must not use the list; if it panics the list is unchanged.
func (l *List[V]) Update(i int, fn func(V) V) (V, error) {
	return l.UpdateContext(context.Background(), i, fn)
}

// UpdateContext is Update that stops waiting for the lock when ctx ends.
func (l *List[V]) UpdateContext(ctx context.Context, i int, fn func(V) V) (_ V, err error) {
	var v V
	if err := l.lock(ctx); err != nil {
		return v, fmt.Errorf("%s update: %w", kindName(l.c.kind), err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	if err == nil {
		i, err = l.index(i, n)
	}
	var b []byte
	if err == nil {
		b, err = l.item(int64(s[i].Load()))
	}
	if err == nil {
		err = l.vc.decode(b, &v)
	}
	if err != nil {
		return v, fmt.Errorf("%s update: %w", kindName(l.c.kind), err)
	}
	nv := fn(v)
	var off int64
	b, err = l.vc.encode(&nv)
	if err == nil {
		off, err = l.newItem(b)
	}
	if err != nil {
		return v, fmt.Errorf("%s update: %w", kindName(l.c.kind), err)
	}
	old := s[i].Load()
	s[i].Store(uint64(off)) // publish
	l.c.heap.Free(int64(old))
	return nv, nil
}

// Pop removes the last item and returns it; on an empty list it fails with
// ErrEmpty.
func (l *List[V]) Pop() (V, error) { return l.PopContext(context.Background()) }

// PopContext is Pop that stops waiting for the lock when ctx ends.
func (l *List[V]) PopContext(ctx context.Context) (_ V, err error) {
	var v V
	if l.c.kind != KindList {
		return v, fmt.Errorf("%s pop: %w", kindName(l.c.kind), ErrFixed)
	}
	if err := l.lock(ctx); err != nil {
		return v, fmt.Errorf("list pop: %w", err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	if err == nil && n == 0 {
		err = ErrEmpty
	}
	var b []byte
	if err == nil {
		b, err = l.item(int64(s[n-1].Load()))
	}
	if err == nil {
		err = l.vc.decode(b, &v)
	}
	if err != nil {
		return v, fmt.Errorf("list pop: %w", err)
	}
	l.c.hdr.count.Store(uint64(n - 1)) // publish
	l.c.heap.Free(int64(s[n-1].Load()))
	return v, nil
}

// Clear removes every item.
func (l *List[V]) Clear() error { return l.ClearContext(context.Background()) }

// ClearContext is Clear that stops waiting for the lock when ctx ends.
func (l *List[V]) ClearContext(ctx context.Context) (err error) {
	if l.c.kind != KindList {
		return fmt.Errorf("%s clear: %w", kindName(l.c.kind), ErrFixed)
	}
	if err := l.lock(ctx); err != nil {
		return fmt.Errorf("list clear: %w", err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	if err != nil {
		return fmt.Errorf("list clear: %w", err)
	}
	l.c.hdr.count.Store(0) // publish
	for i := range n {
		l.c.heap.Free(int64(s[i].Load()))
	}
	return nil
}

// Range calls fn for every item of a snapshot taken atomically under the
// lock, in order, until fn returns false. fn runs without the lock.
func (l *List[V]) Range(fn func(i int, v V) bool) error {
	return l.RangeContext(context.Background(), fn)
}

// RangeContext is Range that stops waiting for the lock when ctx ends.
func (l *List[V]) RangeContext(ctx context.Context, fn func(i int, v V) bool) error {
	ends, buf, err := l.snapshot(ctx)
	if err == nil {
		err = l.decodeEach(ends, buf, fn)
	}
	if err != nil {
		return fmt.Errorf("%s range: %w", kindName(l.c.kind), err)
	}
	return nil
}

// snapshot copies every item's bytes under the lock into buf; item i ends
// at ends[i]. The copy is bounded by the carved heap, whatever the count
// and lengths say.
func (l *List[V]) snapshot(ctx context.Context) (ends []int, buf []byte, err error) {
	if err := l.lock(ctx); err != nil {
		return nil, nil, err
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	if err != nil {
		return nil, nil, err
	}
	ends = make([]int, 0, n)
	limit := l.c.snapshotLimit()
	for i := range n {
		b, err := l.item(int64(s[i].Load()))
		if err != nil {
			return nil, nil, err
		}
		if int64(len(buf)+len(b)) > limit {
			return nil, nil, fmt.Errorf("snapshot of %d bytes exceeds the heap's %d: %w", len(buf)+len(b), limit, ErrCorrupt)
		}
		buf = append(buf, b...)
		ends = append(ends, len(buf))
	}
	return ends, buf, nil
}

// decodeEach decodes a snapshot's items in order and calls fn with each
// until it returns false.
func (l *List[V]) decodeEach(ends []int, buf []byte, fn func(i int, v V) bool) error {
	start := 0
	for i, end := range ends {
		var v V
		if err := l.vc.decode(buf[start:end], &v); err != nil {
			return err
		}
		start = end
		if !fn(i, v) {
			return nil
		}
	}
	return nil
}

// Slice returns a snapshot of the whole list.
func (l *List[V]) Slice() ([]V, error) { return l.SliceContext(context.Background()) }

// SliceContext is Slice that stops waiting for the lock when ctx ends.
func (l *List[V]) SliceContext(ctx context.Context) ([]V, error) {
	ends, buf, err := l.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s slice: %w", kindName(l.c.kind), err)
	}
	out := make([]V, 0, len(ends)) // sized by what was copied, not by Len
	err = l.decodeEach(ends, buf, func(_ int, v V) bool { out = append(out, v); return true })
	if err != nil {
		return out, fmt.Errorf("%s slice: %w", kindName(l.c.kind), err)
	}
	return out, nil
}
