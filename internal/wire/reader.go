package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendBytes appends field to b, preceded by its uvarint length.
func AppendBytes(b, field []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(field)))
	return append(b, field...)
}

// AppendString appends s to b, preceded by its uvarint length.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Reader walks the fields of a record that another process wrote. Every
// read checks its length against the bytes left; the first failure sticks
// (later reads return zero values) and wraps the malformed error the Reader
// was made with, so each protocol keeps its own sentinel.
type Reader struct {
	b         []byte
	err       error
	malformed error
}

// NewReader returns a Reader over b whose failures wrap malformed.
func NewReader(b []byte, malformed error) Reader { return Reader{b: b, malformed: malformed} }

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the bytes not yet read.
func (r *Reader) Len() int { return len(r.b) }

func (r *Reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format+": %w", append(args, r.malformed)...)
	}
}

// Uvarint reads a uvarint of at most limit.
func (r *Reader) Uvarint(limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad length")
		return 0
	}
	if v > limit {
		r.fail("value %d over %d", v, limit)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads a length-prefixed field. The result aliases the Reader's
// bytes (with its capacity cut, so an append cannot overwrite what follows).
func (r *Reader) Bytes() []byte {
	n := r.Uvarint(math.MaxUint32)
	if r.err == nil && n > uint64(len(r.b)) { // checked after the length itself was consumed
		r.fail("field of %d bytes with %d left", n, len(r.b))
	}
	if r.err != nil {
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// String reads a length-prefixed field as a string (a copy).
func (r *Reader) String() string { return string(r.Bytes()) }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}
