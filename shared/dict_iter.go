package shared

import (
	"context"
	"fmt"
	"iter"
	"slices"
)

// dictSnapshot is a copy of every entry's key and value bytes, taken under
// the lock: item i's key is buf[start:start+kl], its value the vl bytes
// after.
type dictSnapshot struct {
	items []snapItem
	buf   []byte
}

type snapItem struct{ start, kl, vl int }

// snapshot copies the dict's entries under the lock. The copy is bounded
// by the carved heap, whatever the slots and lengths say.
func (d *Dict[K, V]) snapshot(ctx context.Context) (snap dictSnapshot, err error) {
	if err := d.lock(ctx); err != nil {
		return snap, err
	}
	defer d.c.release(&err)
	s, err := d.table()
	if err != nil {
		return snap, err
	}
	snap.items = make([]snapItem, 0, min(d.c.hdr.count.Load(), uint64(len(s))))
	limit := d.c.snapshotLimit()
	for i := range s {
		v := s[i].Load()
		if v == slotEmpty || v == slotTomb {
			continue
		}
		_, k, val, err := d.entry(int64(v & slotOff))
		if err != nil {
			return snap, err
		}
		if n := len(snap.buf) + len(k) + len(val); int64(n) > limit {
			return snap, fmt.Errorf("snapshot of %d bytes exceeds the heap's %d: %w", n, limit, ErrCorrupt)
		}
		snap.items = append(snap.items, snapItem{len(snap.buf), len(k), len(val)})
		snap.buf = append(snap.buf, k...)
		snap.buf = append(snap.buf, val...)
	}
	return snap, nil
}

// snapEntry decodes item i of snapshot s of d.
func snapEntry[K, V any](d *Dict[K, V], s *dictSnapshot, i int) (k K, v V, err error) {
	it := s.items[i]
	if k, err = d.kc.key(s.buf[it.start : it.start+it.kl]); err == nil {
		err = d.vc.decode(s.buf[it.start+it.kl:it.start+it.kl+it.vl], &v)
	}
	return k, v, err
}

// All returns an iterator over a snapshot of the dict's entries, Python's
// d.items(): the snapshot is taken atomically under the lock and decoded
// before All returns, so every error (the lock not taken before ctx ended,
// the region closed, corrupt bytes, a value the codec cannot decode) is
// All's, and the iterator never fails. It yields each entry once, in no
// particular order, and may be ranged over again (the same snapshot); the
// loop's body runs without the lock and may use the dict.
func (d *Dict[K, V]) All(ctx context.Context) (iter.Seq2[K, V], error) {
	ks, vs, err := d.decoded(ctx, "dict all")
	if err != nil {
		return nil, err
	}
	return func(yield func(K, V) bool) {
		for i := range ks {
			if !yield(ks[i], vs[i]) {
				return
			}
		}
	}, nil
}

// Keys returns an iterator over a snapshot of the dict's keys, Python's
// d.keys(), as All does.
func (d *Dict[K, V]) Keys(ctx context.Context) (iter.Seq[K], error) {
	ks, _, err := d.decoded(ctx, "dict keys")
	if err != nil {
		return nil, err
	}
	return slices.Values(ks), nil
}

// Values returns an iterator over a snapshot of the dict's values,
// Python's d.values(), as All does.
func (d *Dict[K, V]) Values(ctx context.Context) (iter.Seq[V], error) {
	_, vs, err := d.decoded(ctx, "dict values")
	if err != nil {
		return nil, err
	}
	return slices.Values(vs), nil
}

// decoded takes a snapshot and decodes every entry of it.
func (d *Dict[K, V]) decoded(ctx context.Context, what string) ([]K, []V, error) {
	snap, err := d.snapshot(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	ks, vs := make([]K, len(snap.items)), make([]V, len(snap.items))
	for i := range snap.items {
		if ks[i], vs[i], err = snapEntry(d, &snap, i); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return ks, vs, nil
}
