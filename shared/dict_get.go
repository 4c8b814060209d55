package shared

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/forkless-go/forkless/internal/mapped"
)

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
func (d *Dict[K, V]) Get(k K) (V, bool, error) { return d.GetContext(context.Background(), k) }

// GetContext is Get that stops waiting for the lock (when it needs it)
// when ctx ends.
func (d *Dict[K, V]) GetContext(ctx context.Context, k K) (_ V, _ bool, err error) {
	var v V
	var key []byte
	if s, ok := any(&k).(*string); ok {
		key = []byte(*s) // not changed, not kept: no copy
	} else {
		key = d.kc.bytes(&k)
	}
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
	if err := d.lock(ctx); err != nil {
		return v, false, fmt.Errorf("dict get: %w", err)
	}
	defer d.c.release(&err)
	ok, err := d.get(key, &v)
	if err != nil {
		return v, false, fmt.Errorf("dict get: %w", err)
	}
	return v, ok, nil
}

// tryGet is one optimistic read into *v; ok reports whether it is valid.
// It copies the value out of shared memory (into *v itself for fixed-size
// values, else into a private buffer), checks the change sequence, and
// only then decodes the copy: a codec never sees garbage.
//
// Why a copy that passed the check is a value some Set stored, on arm64
// too, in steps:
//
//  1. Every change that can make an entry unreachable, and so free for
//     reuse, is a slot or root store made between a writer's two
//     seq.Add(1): the block is freed after that store, and whoever
//     reuses it allocates it after the free (the heap's free list is
//     atomic: the free releases, the allocation acquires). So every write
//     into a reused block comes after the first seq.Add of the change
//     that freed it.
//  2. This reader loads seq (s1, even), then root, slots, the entry's
//     header, key and value, and seq again, and every one of those loads
//     is atomic: sync/atomic loads compile to LDAR on arm64, and no later
//     load is performed before an LDAR (on amd64 loads are never
//     reordered with loads). A plain load here (as entry's bytes or
//     bytes.Equal would make) could be performed after the closing seq
//     load, which is the bug this order fixes.
//  3. If any load returned bytes of a reused block, or a slot or root a
//     change stored after s1, then by 1 that change's first seq.Add
//     precedes the write it read, and by 2 the closing load comes after
//     that read: it sees seq moved, and the copy is thrown away.
//  4. Otherwise every load read what was there before any change that
//     began after s1, and no change was under way at s1 (even): the copy
//     is the value a completed Set stored. Only then is it decoded.
//
// (Go's memory model orders only atomics with atomics, and the reuse in 1
// writes with plain stores: step 3 is the hardware's guarantee for an
// atomic load that reads a value, which both amd64 and arm64 give.)
func (d *Dict[K, V]) tryGet(key []byte, h uint64, v *V) (found, ok bool, err error) {
	if d.c.open() != nil {
		return false, false, nil // closed: the locked path reports it
	}
	seq := &d.c.hdr.seq
	s1 := seq.Load()
	if s1%2 != 0 {
		return false, false, nil
	}
	s, err := d.table()
	if err != nil {
		return false, false, nil
	}
	_, found, _, hit, err := d.probe(s, h, key)
	if err != nil {
		return false, false, nil
	}
	var c valueCopy
	if found && !d.copyValue(hit, v, &c) {
		return false, false, nil
	}
	if seq.Load() != s1 { // the closing check: see step 3
		return false, false, nil
	}
	if !found {
		var zero V
		*v = zero // an earlier try may have copied into it
		return false, true, nil
	}
	return true, true, d.decodeCopy(v, &c)
}

// valueCopy is what tryGet copied out of an entry, not yet known valid.
type valueCopy struct {
	n   int64           // the value's length as read
	buf []byte          // []byte values and values of a Codec
	str strings.Builder // string values
}

// copyValue copies the value of the entry probe found with atomic loads: a
// fixed-size value straight into *v (if the length fits; decodeCopy
// reports one that does not), others into c. false: garbage was read.
func (d *Dict[K, V]) copyValue(hit entryRef, v *V, c *valueCopy) bool {
	vl := hit.vl
	// A racy read may see garbage lengths; never copy more than the
	// entry's block holds.
	if n, err := d.c.heap.Cap(hit.off); err != nil || entData+hit.kl+vl > n {
		return false
	}
	off := hit.off + entData + hit.kl
	c.n = vl
	switch d.vc.mode {
	case modeRaw:
		if dst := mapped.Bytes(v); int64(len(dst)) == vl {
			return d.c.loadBytes(dst, off)
		}
		return true
	case modeString:
		c.str.Grow(int(vl))
		return d.c.loadString(&c.str, off, vl)
	}
	c.buf = make([]byte, vl)
	return d.c.loadBytes(c.buf, off)
}

// decodeCopy finishes a valid read: *v from the copy.
func (d *Dict[K, V]) decodeCopy(v *V, c *valueCopy) error {
	switch d.vc.mode {
	case modeRaw:
		return d.vc.checkRaw(c.n, v)
	case modeBytes:
		*any(v).(*[]byte) = c.buf
		return nil
	case modeString:
		*any(v).(*string) = c.str.String()
		return nil
	}
	return d.vc.decode(c.buf, v)
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
