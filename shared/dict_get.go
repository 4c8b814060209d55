package shared

import (
	"bytes"
	"fmt"
	"runtime"
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
	seq := &d.c.hdr.seq
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
