package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/internal/errs"
)

// ErrBufferTooShort: RecvBytesInto's buffer cannot hold the message (or its
// offset lies outside the buffer). Python's BufferTooShort.
var ErrBufferTooShort = errors.New("buffer too short")

func init() { errs.Register(ErrBufferTooShort) }

// BufferTooShortError is RecvBytesInto's error for a message longer than
// the room from offset to the end of the buffer. The message was received
// (it is no longer in the pipe) and is not lost: it is Msg, as Python's
// BufferTooShort carries it in args[0]. It wraps ErrBufferTooShort.
type BufferTooShortError struct {
	Msg  []byte // the whole message, a copy
	Room int    // the bytes the buffer had from offset on
}

func (e *BufferTooShortError) Error() string {
	return fmt.Sprintf("recv bytes into: a %d-byte message, room for %d: %v", len(e.Msg), e.Room, ErrBufferTooShort)
}

func (e *BufferTooShortError) Unwrap() error { return ErrBufferTooShort }

// RecvBytesInto receives the next message into buf[offset:] and returns its
// length, waiting until ctx is done: Python's recv_bytes_into(buffer,
// offset). A message longer than len(buf)-offset is returned in a
// *BufferTooShortError (the message is taken from the pipe and carried by
// the error); an offset outside buf fails with ErrBufferTooShort before
// anything is received. Other errors are Recv's.
func (p *Pipe) RecvBytesInto(ctx context.Context, buf []byte, offset int) (int, error) {
	if offset < 0 || offset > len(buf) {
		return 0, fmt.Errorf("recv bytes into: offset %d outside a %d-byte buffer: %w", offset, len(buf), ErrBufferTooShort)
	}
	m, err := p.recvMessage(ctx)
	if err != nil {
		return 0, err
	}
	room := len(buf) - offset
	if len(m.buf) > room {
		e := &BufferTooShortError{Msg: append([]byte(nil), m.buf...), Room: room}
		if rerr := m.Release(); rerr != nil {
			return 0, fmt.Errorf("recv bytes into: %w", rerr)
		}
		return 0, e
	}
	n := copy(buf[offset:], m.buf)
	if err := m.Release(); err != nil {
		return 0, fmt.Errorf("recv bytes into: %w", err)
	}
	return n, nil
}

// recvMessage takes the next message in place, waiting until ctx is done,
// with AppendRecv's peer-death rule: ErrPeerDied once the sender died and
// nothing is left.
func (p *Pipe) recvMessage(ctx context.Context) (Message, error) {
	q := p.recv
	if q == nil {
		return Message{}, fmt.Errorf("recv: send-only pipe end: %w", ErrClosed)
	}
	if err := p.use(); err != nil {
		return Message{}, fmt.Errorf("recv: %w", err)
	}
	for {
		m, err := q.tryTakeMessage()
		if !errors.Is(err, ErrEmpty) {
			return m, err
		}
		if err := ctx.Err(); err != nil {
			return Message{}, fmt.Errorf("recv: %w", err)
		}
		dead, err := q.waitPeer(ctx, q.notEmpty, &q.h.writer, q.takeRecheck, q.readable)
		if err != nil {
			return Message{}, fmt.Errorf("recv: %w", err)
		}
		if dead && !q.readable() {
			return Message{}, fmt.Errorf("recv: %w", errPeerDied)
		}
	}
}
