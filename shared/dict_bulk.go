package shared

import (
	"context"
	"fmt"
	"iter"
)

// PopItem removes some entry and returns it, Python's d.popitem(); on an
// empty dict it fails with ErrEmpty. Which entry is not specified (Python
// takes the last one set); draining a dict with PopItem costs about one
// table scan in all, not one per call.
func (d *Dict[K, V]) PopItem() (K, V, error) { return d.PopItemContext(context.Background()) }

// PopItemContext is PopItem that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) PopItemContext(ctx context.Context) (k K, v V, err error) {
	if err := d.wlock(ctx); err != nil {
		return k, v, fmt.Errorf("dict popitem: %w", err)
	}
	defer d.wunlock(&err)
	s, err := d.table()
	if err != nil {
		return k, v, fmt.Errorf("dict popitem: %w", err)
	}
	start := int(d.popAt.Load() % uint64(len(s)))
	for n := range len(s) {
		i := (start + n) % len(s)
		slot := s[i].Load()
		if slot == slotEmpty || slot == slotTomb {
			continue
		}
		_, kb, vb, err := d.entry(int64(slot & slotOff))
		if err == nil {
			k, err = d.kc.key(kb)
		}
		if err == nil {
			err = d.vc.decode(vb, &v)
		}
		if err != nil {
			return k, v, fmt.Errorf("dict popitem: %w", err)
		}
		d.popAt.Store(uint64(i))
		d.remove(s, i)
		return k, v, nil
	}
	return k, v, fmt.Errorf("dict popitem: %w", ErrEmpty)
}

// SetAll stores every key and value of kvs, Python's d.update(mapping)
// (from a Go map: d.SetAll(maps.All(m))), all at once: other processes see
// none of them or all, a later value for the same key winning. kvs is read
// before the lock is taken. On an error (shm.ErrNoSpace when the heap is
// full, ErrEncode for a value that cannot be stored) the dict is unchanged.
func (d *Dict[K, V]) SetAll(kvs iter.Seq2[K, V]) error {
	return d.SetAllContext(context.Background(), kvs)
}

// SetAllContext is SetAll that stops waiting for the lock when ctx ends.
func (d *Dict[K, V]) SetAllContext(ctx context.Context, kvs iter.Seq2[K, V]) (err error) {
	type pending struct {
		h   uint64
		key []byte
		e   int64
	}
	var ps []pending
	defer func() { // entries not published (an error) are freed
		for _, p := range ps {
			d.c.heap.Free(p.e)
		}
	}()
	for k, v := range kvs {
		key := append([]byte(nil), d.kc.bytes(&k)...)
		val, err := d.vc.encode(&v)
		if err == nil {
			err = checkSizes(key, val)
		}
		var e int64
		h := hashKey(d.c.seed, key)
		if err == nil {
			e, err = d.newEntry(h, key, val)
		}
		if err != nil {
			return fmt.Errorf("dict setall: %w", err)
		}
		ps = append(ps, pending{h, key, e})
	}
	if err := d.wlock(ctx); err != nil {
		return fmt.Errorf("dict setall: %w", err)
	}
	var olds []int64
	err = func() (err error) {
		defer d.wunlock(&err)
		if err := d.reserve(len(ps)); err != nil {
			return err
		}
		for i, p := range ps {
			old, err := d.publish(p.h, p.key, p.e)
			if err != nil {
				ps = ps[i:] // published entries stay: an error here is ErrCorrupt
				return err
			}
			if old != 0 {
				olds = append(olds, old)
			}
		}
		ps = nil
		return nil
	}()
	for _, o := range olds {
		d.c.heap.Free(o)
	}
	if err != nil {
		return fmt.Errorf("dict setall: %w", err)
	}
	return nil
}

// reserve grows the table, under the lock, so that m more entries fit
// without another rebuild: after it, publishing them cannot fail for want
// of heap space.
func (d *Dict[K, V]) reserve(m int) error {
	s, err := d.table()
	if err != nil {
		return err
	}
	count, tombs := d.c.hdr.count.Load(), d.c.hdr.tombs.Load()
	if count > uint64(len(s)) || tombs > uint64(len(s)) {
		if err := d.recount(); err != nil {
			return err
		}
		count, tombs = d.c.hdr.count.Load(), d.c.hdr.tombs.Load()
	}
	if (count+tombs+uint64(m)+1)*4 <= uint64(len(s))*3 {
		return nil
	}
	n := len(s)
	for (count+uint64(m)+1)*4 > uint64(n)*3 {
		n *= 2
	}
	_, err = d.rebuild(s, n)
	return err
}
