package shared

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"slices"
)

// The list operations that move items (Insert, PopAt, Remove) build a new
// slot array and publish it with the new length: two words, root and
// count. So that a process killed between the two stores leaves the old
// list or the new one, the change is journaled first in two header words
// lists do not otherwise use: seq gets the new count, then tombs the new
// root (that store makes the intent complete), then root and count are
// stored, then tombs is cleared. The next process to take the lock from a
// dead holder finds tombs set and rolls the change forward (repairList).

// commit publishes slot array root holding n items as the list, under the
// lock. The caller frees the old array and any item it dropped afterwards.
func (l *List[V]) commit(root int64, n int) {
	l.c.hdr.seq.Store(uint64(n))
	l.c.hdr.tombs.Store(uint64(root)) // the journal is complete
	l.c.hdr.root.Store(uint64(root))
	l.c.hdr.count.Store(uint64(n))
	l.c.hdr.tombs.Store(0)
}

// repairList finishes a change whose process died between its journal and
// its last store (see commit). A journal another process wrote over
// (naming no slot array, or more items than it holds) is dropped: the list
// stays as its root and count say, checked by state.
func (l *List[V]) repairList() error {
	if j := l.c.hdr.tombs.Load(); j != 0 && l.c.kind == KindList {
		n := l.c.hdr.seq.Load()
		if s, err := l.c.slots(int64(j)); err == nil && n <= uint64(len(s)) {
			l.c.hdr.root.Store(j)
			l.c.hdr.count.Store(n)
		}
		l.c.hdr.tombs.Store(0)
	}
	_, _, err := l.state()
	return err
}

// rebuilt returns a new slot array holding s[:n] with item `at` removed
// (drop) or item off inserted before it.
func (l *List[V]) rebuilt(s []sharedSlot, n, at int, drop bool, off int64) (int64, error) {
	c := len(s)
	for n+1 > c {
		c *= 2
	}
	root, ns, err := l.c.newSlots(c)
	if err != nil {
		return 0, err
	}
	j := 0
	for i := range n {
		if i == at {
			if drop {
				continue
			}
			ns[j].Store(uint64(off))
			j++
		}
		ns[j].Store(s[i].Load())
		j++
	}
	if !drop && at == n {
		ns[j].Store(uint64(off))
	}
	return root, nil
}

// Insert puts v before item i, Python's l.insert(i, v): i may be negative,
// counting from the end, and is clamped to the list (0 or Len). Other
// processes see the old list or the new one, even if this one is killed.
func (l *List[V]) Insert(i int, v V) error { return l.InsertContext(context.Background(), i, v) }

// InsertContext is Insert that stops waiting for the lock when ctx ends.
func (l *List[V]) InsertContext(ctx context.Context, i int, v V) (err error) {
	if l.c.kind != KindList {
		return fmt.Errorf("%s insert: %w", kindName(l.c.kind), ErrFixed)
	}
	b, err := l.vc.encode(&v)
	if err != nil {
		return fmt.Errorf("list insert: %w", err)
	}
	off, err := l.newItem(b)
	if err != nil {
		return fmt.Errorf("list insert: %w", err)
	}
	if err := l.lock(ctx); err != nil {
		l.c.heap.Free(off)
		return fmt.Errorf("list insert: %w", err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	var root int64
	if err == nil {
		if i < 0 {
			i = max(i+n, 0)
		}
		root, err = l.rebuilt(s, n, min(i, n), false, off)
	}
	if err != nil {
		l.c.heap.Free(off)
		return fmt.Errorf("list insert: %w", err)
	}
	old := int64(l.c.hdr.root.Load())
	l.commit(root, n+1)
	l.c.heap.Free(old)
	return nil
}

// PopAt removes item i and returns it, Python's l.pop(i); i may be
// negative, counting from the end. Pop is PopAt(-1).
func (l *List[V]) PopAt(i int) (V, error) { return l.PopAtContext(context.Background(), i) }

// PopAtContext is PopAt that stops waiting for the lock when ctx ends.
func (l *List[V]) PopAtContext(ctx context.Context, i int) (v V, err error) {
	err = l.removeWhere(ctx, "pop", func(s []sharedSlot, n int) (int, error) {
		if n == 0 {
			return 0, ErrEmpty
		}
		i, err := l.index(i, n)
		if err != nil {
			return 0, err
		}
		b, err := l.item(int64(s[i].Load()))
		if err == nil {
			err = l.vc.decode(b, &v)
		}
		return i, err
	})
	return v, err
}

// Remove removes the first item equal to v (compared as encoded bytes, as
// CompareAndSwap compares), Python's l.remove(v); it fails with
// ErrNotFound if there is none.
func (l *List[V]) Remove(v V) error { return l.RemoveContext(context.Background(), v) }

// RemoveContext is Remove that stops waiting for the lock when ctx ends.
func (l *List[V]) RemoveContext(ctx context.Context, v V) error {
	want, err := l.vc.encode(&v)
	if err != nil {
		return fmt.Errorf("list remove: %w", err)
	}
	want = bytes.Clone(want)
	return l.removeWhere(ctx, "remove", func(s []sharedSlot, n int) (int, error) {
		return l.find(s, n, want)
	})
}

// removeWhere removes, under the lock, the item that pick names.
func (l *List[V]) removeWhere(ctx context.Context, what string, pick func(s []sharedSlot, n int) (int, error)) (err error) {
	if l.c.kind != KindList {
		return fmt.Errorf("%s %s: %w", kindName(l.c.kind), what, ErrFixed)
	}
	if err := l.lock(ctx); err != nil {
		return fmt.Errorf("list %s: %w", what, err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	var i int
	if err == nil {
		i, err = pick(s, n)
	}
	if err == nil && i == n-1 { // the last item: one store, as Pop
		l.c.hdr.count.Store(uint64(n - 1))
		l.c.heap.Free(int64(s[i].Load()))
		return nil
	}
	var root int64
	if err == nil {
		root, err = l.rebuilt(s, n, i, true, 0)
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", what, err)
	}
	old, item := int64(l.c.hdr.root.Load()), int64(s[i].Load())
	l.commit(root, n-1)
	l.c.heap.Free(old)
	l.c.heap.Free(item)
	return nil
}

// find returns the index of the first of the n items whose bytes are want.
func (l *List[V]) find(s []sharedSlot, n int, want []byte) (int, error) {
	for i := range n {
		b, err := l.item(int64(s[i].Load()))
		if err != nil {
			return 0, err
		}
		if bytes.Equal(b, want) {
			return i, nil
		}
	}
	return 0, ErrNotFound
}

// Index returns the index of the first item equal to v (compared as
// encoded bytes), Python's l.index(v); it fails with ErrNotFound if there
// is none.
func (l *List[V]) Index(v V) (int, error) { return l.IndexContext(context.Background(), v) }

// IndexContext is Index that stops waiting for the lock when ctx ends.
func (l *List[V]) IndexContext(ctx context.Context, v V) (i int, err error) {
	err = l.scan(ctx, "index", v, func(s []sharedSlot, n int, want []byte) error {
		i, err = l.find(s, n, want)
		return err
	})
	return i, err
}

// Count returns how many items equal v (compared as encoded bytes),
// Python's l.count(v).
func (l *List[V]) Count(v V) (int, error) { return l.CountContext(context.Background(), v) }

// CountContext is Count that stops waiting for the lock when ctx ends.
func (l *List[V]) CountContext(ctx context.Context, v V) (c int, err error) {
	err = l.scan(ctx, "count", v, func(s []sharedSlot, n int, want []byte) error {
		for i := range n {
			b, err := l.item(int64(s[i].Load()))
			if err != nil {
				return err
			}
			if bytes.Equal(b, want) {
				c++
			}
		}
		return nil
	})
	return c, err
}

// scan runs fn over the items under the lock with v's encoding.
func (l *List[V]) scan(ctx context.Context, what string, v V, fn func(s []sharedSlot, n int, want []byte) error) (err error) {
	want, err := l.vc.encode(&v)
	if err != nil {
		return fmt.Errorf("%s %s: %w", kindName(l.c.kind), what, err)
	}
	if err := l.lock(ctx); err != nil {
		return fmt.Errorf("%s %s: %w", kindName(l.c.kind), what, err)
	}
	defer l.c.release(&err)
	s, n, err := l.state()
	if err == nil {
		err = fn(s, n, want)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", kindName(l.c.kind), what, err)
	}
	return nil
}

// Extend appends every value of vs at the end, all at once, Python's
// l.extend(iterable): vs is read before the lock is taken (from a slice:
// l.Extend(slices.Values(xs)), or l.Append(xs...)).
func (l *List[V]) Extend(vs iter.Seq[V]) error { return l.ExtendContext(context.Background(), vs) }

// ExtendContext is Extend that stops waiting for the lock when ctx ends.
func (l *List[V]) ExtendContext(ctx context.Context, vs iter.Seq[V]) error {
	if err := l.AppendContext(ctx, slices.Collect(vs)...); err != nil {
		return fmt.Errorf("list extend: %w", err)
	}
	return nil
}

// All returns an iterator over a snapshot of the list's items with their
// indexes, taken atomically under the lock and decoded before All returns:
// every error is All's, and the iterator never fails. It may be ranged
// over again (the same snapshot); the loop's body runs without the lock.
func (l *List[V]) All(ctx context.Context) (iter.Seq2[int, V], error) {
	vs, err := l.SliceContext(ctx)
	if err != nil {
		return nil, err
	}
	return slices.All(vs), nil
}

// Values returns an iterator over a snapshot of the list's items, as All.
func (l *List[V]) Values(ctx context.Context) (iter.Seq[V], error) {
	vs, err := l.SliceContext(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Values(vs), nil
}
