package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// PipeOf is a Pipe end that sends and receives values of T: Python's
// Connection.send(obj) and recv(). Values are encoded in Send, in the
// caller's goroutine, by a Codec as in Of (RawCodec for a fixed-size,
// pointer-free T, GobCodec otherwise): an encoding error is Send's error.
// Both ends must use the same T and codec; the rings carry a fingerprint of
// them and OpenPipeOf refuses another (shm.ErrType).
type PipeOf[T any] struct {
	_     recNoCopy
	p     *Pipe
	codec Codec[T]
}

// NewPipeOf allocates a typed pipe in r (see NewPipe). codec may be nil.
func NewPipeOf[T any](r *shm.Region, c Config, duplex bool, codec Codec[T]) (*PipeOf[T], *PipeOf[T], error) {
	codec = defaultCodec(codec)
	elem, typ := codecFingerprint(codec)
	r, undo, err := ownRegion(r, c)
	if err != nil {
		return nil, nil, fmt.Errorf("new pipe of %T: %w", *new(T), err)
	}
	ab, err := newQueueRecords(r, c, 0, elem, typ)
	if err != nil {
		undo()
		return nil, nil, fmt.Errorf("new pipe of %T: %w", *new(T), err)
	}
	var a, b *Pipe
	if duplex {
		ba, err := newQueueRecords(r, c, 0, elem, typ)
		if err != nil {
			undo()
			return nil, nil, fmt.Errorf("new pipe of %T: %w", *new(T), err)
		}
		a, b = pipeEnd(ab, ba), pipeEnd(ba, ab)
	} else {
		a, b = pipeEnd(nil, ab), pipeEnd(ab, nil)
	}
	return &PipeOf[T]{p: a, codec: codec}, &PipeOf[T]{p: b, codec: codec}, nil
}

// OpenPipeOf binds a typed pipe end made by NewPipeOf with the same T and
// codec (nil for the default).
func OpenPipeOf[T any](h PipeHandle, codec Codec[T]) (*PipeOf[T], error) {
	codec = defaultCodec(codec)
	elem, typ := codecFingerprint(codec)
	for _, rh := range []shm.Handle{h.Send, h.Recv} {
		if !rh.IsZero() && (rh.Elem != elem || rh.Type != typ) {
			return nil, fmt.Errorf("open pipe of %T: the pipe carries another type or codec: %w", *new(T), shm.ErrType)
		}
	}
	p, err := OpenPipe(h)
	if err != nil {
		return nil, err
	}
	for _, q := range []*records{p.send, p.recv} {
		if q != nil && (q.h.elem != elem || q.h.typ != typ) {
			return nil, fmt.Errorf("open pipe of %T: the ring carries another type or codec: %w", *new(T), shm.ErrType)
		}
	}
	return &PipeOf[T]{p: p, codec: codec}, nil
}

// WrapPipe sends and receives values of T over an untyped end, a Conn
// from a Listener or Dial say (Python's conn.send(obj) on a Client). The
// rings carry no fingerprint of T: both sides must wrap with the same T
// and codec (nil for the default), or Recv fails to decode.
func WrapPipe[T any](p *Pipe, codec Codec[T]) *PipeOf[T] {
	return &PipeOf[T]{p: p, codec: defaultCodec(codec)}
}

// Handle names this end for OpenPipeOf in another process; taking it
// marks the end as handed on (see Pipe.Close).
func (t *PipeOf[T]) Handle() PipeHandle { return t.p.Handle() }

// Pipe returns the untyped end under t (for Poll, io.Reader use or
// RecvBytesInto of raw messages).
func (t *PipeOf[T]) Pipe() *Pipe { return t.p }

// Send encodes v and sends it as one message (see Pipe.Send).
func (t *PipeOf[T]) Send(ctx context.Context, v T) error {
	b, err := t.codec.Append(nil, v)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return t.p.Send(ctx, b)
}

// Recv receives and decodes the next value (see Pipe.Recv).
func (t *PipeOf[T]) Recv(ctx context.Context) (T, error) {
	var v T
	m, err := t.p.recvMessage(ctx)
	if err != nil {
		return v, err
	}
	derr := t.codec.Decode(m.buf, &v)
	if rerr := m.Release(); rerr != nil && derr == nil {
		derr = rerr
	}
	if derr != nil {
		var zero T
		return zero, fmt.Errorf("recv: %w", derr)
	}
	return v, nil
}

// Poll is Pipe.Poll.
func (t *PipeOf[T]) Poll(timeout time.Duration) (bool, error) { return t.p.Poll(timeout) }

// Close is Pipe.Close.
func (t *PipeOf[T]) Close() error { return t.p.Close() }

func (t *PipeOf[T]) readRing() *records { return t.p.recv }
