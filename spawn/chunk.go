package spawn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/forkless-go/forkless/internal/layout"
)

// Chunks: how a pool cuts a map into tasks, and the bytes a chunk travels
// as. A task carries a run of consecutive items of one job; its argument
// payload and its result payload are lists of per-item records. Both live in
// shared memory (inline in the ring descriptor when small, else in the
// worker's heap) and are parsed by the other process, so the parsers below
// check every length against the bytes they were given and fail with
// errChunk rather than read past them (FuzzParseResults).
//
// Argument payload (parent writes, worker reads):
//
//	[name]                  only when the descriptor has flagName: uvarint
//	                        length, then the registered function's name
//	item*                   Count times: uvarint length, then the encoded argument
//
// Result payload (worker writes, parent reads), one record per item, in order:
//
//	status:u8               itemOK, itemError, itemPanic or itemSkipped
//	itemOK:                 uvarint length, then the encoded result
//	itemError, itemPanic:   message, type, stack (each uvarint length + bytes),
//	                        then nkeys:uvarint and that many keys (the
//	                        registered sentinel errors found in the error)
//	itemSkipped:            nothing (the job was cancelled before the item ran)

const (
	itemOK      = 0
	itemError   = 1
	itemPanic   = 2
	itemSkipped = 3
)

var errChunk = errors.New("malformed chunk")

// ChunkSize returns the chunk size Python's Pool.map picks for n items on
// workers workers: n / (4*workers), rounded up, at least 1. Four chunks per
// worker keep the workers busy to the end while the cost per task is paid
// only a few times.
func ChunkSize(n, workers int) int {
	if n <= 0 {
		return 1
	}
	workers = max(workers, 1)
	c, extra := n/(4*workers), n%(4*workers)
	if extra != 0 {
		c++
	}
	return max(c, 1)
}

// valueCodec encodes and decodes values of one type T the way the
// registry does (raw bytes for a fixed-size, pointer-free T, the function's
// Codec otherwise), with the layout check done once rather than per value.
type valueCodec[T any] struct {
	c    Codec
	raw  bool
	size int
}

func codecFor[T any](c Codec) valueCodec[T] {
	info, err := layout.Of[T]()
	return valueCodec[T]{c: c, raw: err == nil, size: int(info.Size)}
}

// append appends *v, length-prefixed, to dst.
func (vc valueCodec[T]) append(dst []byte, v *T) ([]byte, error) {
	if vc.raw {
		dst = binary.AppendUvarint(dst, uint64(vc.size))
		return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(v)), vc.size)...), nil
	}
	b, err := vc.c.Encode(v)
	if err != nil {
		return dst, fmt.Errorf("argument of type %T: %v: %w", *v, err, ErrEncode)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...), nil
}

// decode fills *v from b.
func (vc valueCodec[T]) decode(b []byte, v *T) error {
	if vc.raw {
		if len(b) != vc.size {
			return fmt.Errorf("%d bytes for a %d-byte %T: %w", len(b), vc.size, *v, errChunk)
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), vc.size), b)
		return nil
	}
	return vc.c.Decode(b, v)
}

// chunkReader walks the records of a payload. Every read checks bounds.
type chunkReader struct {
	b   []byte
	err error
}

func (r *chunkReader) uvarint(limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("bad length: %w", errChunk)
		return 0
	}
	if v > limit {
		r.err = fmt.Errorf("value %d over %d: %w", v, limit, errChunk)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *chunkReader) bytes() []byte {
	n := r.uvarint(math.MaxUint32)
	if r.err == nil && n > uint64(len(r.b)) { // checked after the length itself was consumed
		r.err = fmt.Errorf("field of %d bytes with %d left: %w", n, len(r.b), errChunk)
	}
	if r.err != nil {
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *chunkReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = fmt.Errorf("truncated: %w", errChunk)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// itemResult is one parsed record of a result payload. Its byte slices
// point into the payload: copy (decode) them before the payload is freed.
type itemResult struct {
	status  byte
	value   []byte
	message []byte
	typ     []byte
	stack   []byte
	keys    []string
}

// parseResults calls fn for each of the n records of a result payload, in
// order, and fails with errChunk on anything malformed (fn may have been
// called for the records before it).
func parseResults(b []byte, n int, fn func(i int, it itemResult)) error {
	r := chunkReader{b: b}
	var it itemResult
	for i := range n {
		it = itemResult{status: r.byte()}
		switch it.status {
		case itemOK:
			it.value = r.bytes()
		case itemError, itemPanic:
			it.message, it.typ, it.stack = r.bytes(), r.bytes(), r.bytes()
			nk := r.uvarint(maxKeys)
			for range nk {
				k := r.bytes()
				if r.err != nil {
					break
				}
				it.keys = append(it.keys, string(k))
			}
		case itemSkipped:
		default:
			if r.err == nil {
				r.err = fmt.Errorf("item %d: status %d: %w", i, it.status, errChunk)
			}
		}
		if r.err != nil {
			return fmt.Errorf("parse results: item %d of %d: %w", i, n, r.err)
		}
		fn(i, it) // by value: a pointer would make it escape, one allocation per task
	}
	return nil
}

// appendOK appends a successful item's record.
func appendOK(dst, value []byte) []byte {
	dst = append(dst, itemOK)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// appendFailed appends a failed item's record.
func appendFailed(dst []byte, status byte, message, typ, stack string, keys []string) []byte {
	dst = append(dst, status)
	dst = chunkAppendString(dst, message)
	dst = chunkAppendString(dst, typ)
	dst = chunkAppendString(dst, stack)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = chunkAppendString(dst, k)
	}
	return dst
}

func chunkAppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
