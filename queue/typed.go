package queue

import (
	"context"
	"fmt"
	"sync"

	"github.com/forkless-go/forkless/internal/mapped"
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
	r, undo, err := ownRegion(r, c)
	if err != nil {
		return nil, fmt.Errorf("new queue of %T: %w", *new(T), err)
	}
	q, err := newQueueRecords(r, c, 0, elem, typ)
	if err != nil {
		undo()
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
	if q.h.elem != elem || q.h.typ != typ {
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
func (t *Of[T]) Put(ctx context.Context, v T) error { return t.put(ctx, v) }

// TryPut is Put that fails with ErrFull instead of waiting.
func (t *Of[T]) TryPut(v T) error { return t.tryPut(v) }

// Get removes and decodes the next value, waiting until ctx is done; once
// the queue is closed and drained it fails with ErrClosed.
func (t *Of[T]) Get(ctx context.Context) (T, error) { return t.decode(t.q.takeMessage(ctx)) }

// TryGet is Get that fails with ErrEmpty instead of waiting.
func (t *Of[T]) TryGet() (T, error) { return t.decode(t.q.tryTakeMessage()) }

// Len reports the values queued (see Queue.Len).
func (t *Of[T]) Len() int { return t.q.len() }

// Cap returns the ring's data capacity in bytes.
func (t *Of[T]) Cap() int { return int(t.q.cap) }

// Close closes the queue for every process (see Queue.Close).
func (t *Of[T]) Close() error { return t.q.close() }

// Closed reports whether the queue was closed.
func (t *Of[T]) Closed() bool { return t.q.closed.Load() != 0 }

func (t *Of[T]) put(ctx context.Context, v T) error {
	if t.fixed >= 0 {
		p, err := t.q.claim(ctx, t.fixed, 0)
		if err != nil {
			return err
		}
		return t.fillFixed(p, v)
	}
	return t.encode(v, func(b []byte) error { return t.q.putBytes(ctx, b) })
}

func (t *Of[T]) tryPut(v T) error {
	if t.fixed >= 0 {
		p, err := t.q.tryClaimPut(t.fixed, 0)
		if err != nil {
			return err
		}
		return t.fillFixed(p, v)
	}
	return t.encode(v, t.q.tryPutBytes)
}

// fillFixed writes v into the record claimed at p (t.fixed bytes) and
// commits it.
func (t *Of[T]) fillFixed(p uint64, v T) error {
	off := p&t.q.mask + recHdr
	if t.raw {
		copy(t.q.data[off:off+uint64(t.fixed)], mapped.Bytes(&v))
		return t.q.commit(p, t.fixed)
	}
	dst := t.q.data[off : off : off+uint64(t.fixed)]
	if _, err := t.codec.Append(dst, v); err != nil {
		t.q.abort(p)
		return fmt.Errorf("put: %w", err)
	}
	return t.q.commit(p, t.fixed)
}

// encode encodes v into a pooled buffer and puts it with put.
func (t *Of[T]) encode(v T, put func([]byte) error) error {
	bp, _ := t.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b, err := t.codec.Append((*bp)[:0], v)
	if err != nil {
		t.bufs.Put(bp)
		return fmt.Errorf("put: %w", err)
	}
	err = put(b)
	if cap(b) <= 1<<16 {
		*bp = b
		t.bufs.Put(bp)
	}
	return err
}

// decode turns a taken message into a T and releases it.
func (t *Of[T]) decode(m Message, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if t.raw && len(m.buf) == t.fixed {
		copy(mapped.Bytes(&v), m.buf)
	} else {
		w := new(T) // in this branch only: &v would make every Get allocate
		err = t.codec.Decode(m.buf, w)
		v = *w
	}
	if rerr := m.Release(); rerr != nil && err == nil {
		var zero T
		return zero, fmt.Errorf("get: %w", rerr)
	}
	if err != nil {
		return v, fmt.Errorf("get: %w", err)
	}
	return v, nil
}
