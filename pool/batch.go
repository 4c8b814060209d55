package pool

import (
	"encoding/binary"
	"slices"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/wire"
)

// Whole tasks at a time. A Map's parent encodes every item of a task and
// decodes every result of it; item by item, through the jobOps interface,
// with a length fix-up, a parse callback and an atomic count per item, that
// cost the parent five times what the worker spends per item (issue 14).
// A job that knows its types does a task in one typed loop instead:
// fixed-size, pointer-free values of fewer than 128 bytes are copied
// straight between the items and the payload, and the items it decoded are
// completed with one count (settle).

// batchOps is implemented by jobs that encode and decode a task at a time.
type batchOps interface {
	// appendArgs appends the length-prefixed arguments of items [lo, hi).
	appendArgs(dst []byte, lo, hi int) ([]byte, error)
	// takeOK decodes the leading itemOK records of a result payload into
	// items lo, lo+1... (at most n), and returns how many it took and the
	// payload after them. It stops at anything else: a failed item, a
	// value it does not decode itself, malformed bytes; the caller parses
	// the rest. The items taken are not complete until settle.
	takeOK(payload []byte, lo, n int) (int, []byte)
	// settle completes k items taken by takeOK.
	settle(k int)
}

// rawSize returns the encoded size of a T that travels raw and whose
// length fits one byte, or 0.
func rawSize[T any](vc wire.Value[T]) int {
	var v T
	if n := len(mapped.Bytes(&v)); vc.Raw() && n > 0 && n < 0x80 {
		return n
	}
	return 0
}

// appendItems appends the length-prefixed encodings of items.
func appendItems[T any](dst []byte, vc wire.Value[T], items []T) ([]byte, error) {
	size := rawSize(vc)
	if size == 0 {
		for i := range items {
			at := len(dst)
			dst = append(dst, 0)
			var err error
			if dst, err = vc.Append(dst, &items[i]); err != nil {
				return dst, err
			}
			dst = fixLength(dst, at)
		}
		return dst, nil
	}
	at := len(dst)
	dst = slices.Grow(dst, len(items)*(size+1))[:at+len(items)*(size+1)]
	out := dst[at:]
	for i := range items {
		out[0] = byte(size)
		copyRaw(out[1:1+size], mapped.Bytes(&items[i]), size)
		out = out[1+size:]
	}
	return dst, nil
}

// takeItems decodes the leading itemOK records of payload into out (at
// most len(out)) when R travels raw, and returns how many it decoded and
// the payload after them.
func takeItems[T any](payload []byte, vc wire.Value[T], out []T) (int, []byte) {
	size := rawSize(vc)
	if size == 0 {
		return 0, payload
	}
	k := 0
	for k < len(out) && len(payload) >= 2+size && payload[0] == itemOK && payload[1] == byte(size) {
		copyRaw(mapped.Bytes(&out[k]), payload[2:2+size], size)
		payload = payload[2+size:]
		k++
	}
	return k, payload
}

// copyRaw copies size bytes from src to dst, an 8-byte word without a call.
func copyRaw(dst, src []byte, size int) {
	if size == 8 {
		binary.NativeEndian.PutUint64(dst, binary.NativeEndian.Uint64(src))
		return
	}
	copy(dst, src)
}
