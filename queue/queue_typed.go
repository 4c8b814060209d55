package queue

import (
	"context"
	"fmt"
	"sync"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
)

// Of is a Queue of values of T, encoded by a Codec. For a fixed-size,
// pointer-free T (the default RawCodec) a value is copied straight into
// its record and out again: no encoding and no allocation. Other types go
// through their codec (GobCodec by default).
//
// The ring records T's fingerprint and size, so OpenOf with another
// type, or another codec, fails with shm.ErrType.
type Of[T any] struct {
	_     recNoCopy
	q     *records
	codec Codec[T]
	fixed int  // encoded size for a fixedCodec, else -1
	raw   bool // codec is RawCodec[T]: copy bytes in place, no interface call
	bufs  sync.Pool
}

func defaultCodec[T any](c Codec[T]) Codec[T] {
	if c != nil {
		return c
	}
	if raw, err := NewRawCodec[T](); err == nil {
		return raw
	}
	return GobCodec[T]{}
}

// NewOf allocates a typed queue in r. codec may be nil: RawCodec for
// a fixed-size, pointer-free T, GobCodec otherwise.
func NewOf[T any](r *shm.Region, c Config, codec Codec[T]) (*Of[T], error) {
	codec = defaultCodec(codec)
	elem, typ := codecFingerprint(codec)
	q, err := newQueueRecords(r, c, 0, elem, typ)
	if err != nil {
		return nil, fmt.Errorf("new queue of %T: %w", *new(T), err)
	}
	return newQueueOf(q, codec)
}

// OpenOf binds a typed queue made by NewOf with the same T and
// codec (nil for the default).
func OpenOf[T any](h shm.Handle, codec Codec[T]) (*Of[T], error) {
	codec = defaultCodec(codec)
	elem, typ := codecFingerprint(codec)
	if h.Elem != elem || h.Type != typ {
		return nil, fmt.Errorf("open queue of %T: the queue holds another type or codec: %w", *new(T), shm.ErrType)
	}
	q, err := openRecords(h)
	if err != nil {
		return nil, err
	}
	if getU32(q.b.Bytes(), recOffElem) != elem || getU64(q.b.Bytes(), recOffType) != typ {
		return nil, fmt.Errorf("open queue of %T: the ring holds another type or codec: %w", *new(T), shm.ErrType)
	}
	return newQueueOf(q, codec)
}

func newQueueOf[T any](q *records, codec Codec[T]) (*Of[T], error) {
	t := &Of[T]{q: q, codec: codec, fixed: -1}
	if f, ok := codec.(fixedCodec); ok {
		t.fixed = f.fixedSize()
		_, t.raw = codec.(RawCodec[T])
		if t.fixed > q.maxInline() {
			return nil, fmt.Errorf("queue of %T: %d-byte values in a %d-byte ring: %w", *new(T), t.fixed, q.cap, ErrTooLarge)
		}
	}
	return t, nil
}

// Handle names the queue for OpenOf in another process.
func (t *Of[T]) Handle() shm.Handle { return t.q.b.Handle() }

// Put appends v, waiting for room until ctx is done.
func (t *Of[T]) Put(ctx context.Context, v T) error { return t.put(ctx, v, true) }

// TryPut is Put that fails with ErrFull instead of waiting.
func (t *Of[T]) TryPut(v T) error { return t.put(nil, v, false) }

// Get removes and decodes the next value, waiting until ctx is done; once
// the queue is closed and drained it fails with ErrClosed.
func (t *Of[T]) Get(ctx context.Context) (T, error) { return t.get(ctx, true) }

// TryGet is Get that fails with ErrEmpty instead of waiting.
func (t *Of[T]) TryGet() (T, error) { return t.get(nil, false) }

// Len reports the values queued (see Queue.Len).
func (t *Of[T]) Len() int { return t.q.len() }

// Cap returns the ring's data capacity in bytes.
func (t *Of[T]) Cap() int { return int(t.q.cap) }

// Close closes the queue for every process (see Queue.Close).
func (t *Of[T]) Close() error { return t.q.close() }

// Closed reports whether the queue was closed.
func (t *Of[T]) Closed() bool { return t.q.closed.Load() != 0 }

func (t *Of[T]) put(ctx context.Context, v T, block bool) error {
	if t.fixed >= 0 {
		p, err := t.q.claimAny(ctx, t.fixed, 0, block)
		if err != nil {
			return err
		}
		off := p&t.q.mask + recHdr
		if t.raw {
			copy(t.q.data[off:off+uint64(t.fixed)], unsafe.Slice((*byte)(unsafe.Pointer(&v)), t.fixed))
			return t.q.commit(p, t.fixed)
		}
		dst := t.q.data[off : off : off+uint64(t.fixed)]
		if _, err := t.codec.Append(dst, v); err != nil {
			t.q.abort(p)
			return fmt.Errorf("put: %w", err)
		}
		return t.q.commit(p, t.fixed)
	}
	bp, _ := t.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b, err := t.codec.Append((*bp)[:0], v)
	if err != nil {
		t.bufs.Put(bp)
		return fmt.Errorf("put: %w", err)
	}
	err = t.q.putBytes(ctx, b, block)
	if cap(b) <= 1<<16 {
		*bp = b
		t.bufs.Put(bp)
	}
	return err
}

func (t *Of[T]) get(ctx context.Context, block bool) (T, error) {
	var v T
	m, err := t.q.takeMessage(ctx, block)
	if err != nil {
		return v, err
	}
	if t.raw && len(m.buf) == t.fixed {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v)), t.fixed), m.buf)
	} else {
		w := new(T) // in this branch only: &v would make every Get allocate
		err = t.codec.Decode(m.buf, w)
		v = *w
	}
	m.Release()
	if err != nil {
		return v, fmt.Errorf("get: %w", err)
	}
	return v, nil
}
