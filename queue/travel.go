package queue

import (
	"fmt"
	"strings"

	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
)

// A *Queue, *Of, *Joinable or *Pipe end in a spawn argument (or a field of
// one) travels as its handle: spawn shares its region with the child, which
// receives it bound. These methods are how the codecs carry it
// (encoding.TextMarshaler for JSON, BinaryMarshaler for gob). A typed queue travels with the default codec:
// one made with another codec is refused when the child binds it.

// MarshalText returns the queue's handle in its text form.
func (q *Queue) MarshalText() ([]byte, error) { return wire.HandleText(q.Handle(), "queue") }

// UnmarshalText binds the queue a handle's text form names.
func (q *Queue) UnmarshalText(b []byte) error { return wire.BindText(b, q, shm.ParseHandle, Open) }

// MarshalText returns the queue's handle in its text form.
func (t *Of[T]) MarshalText() ([]byte, error) { return wire.HandleText(t.Handle(), "queue") }

// UnmarshalText binds the queue a handle's text form names, with the
// default codec.
func (t *Of[T]) UnmarshalText(b []byte) error {
	return wire.BindText(b, t, shm.ParseHandle, func(h shm.Handle) (*Of[T], error) { return OpenOf[T](h, nil) })
}

// MarshalText returns the queue's handle in its text form.
func (j *Joinable) MarshalText() ([]byte, error) { return wire.HandleText(j.Handle(), "queue") }

// UnmarshalText binds the queue a handle's text form names.
func (j *Joinable) UnmarshalText(b []byte) error {
	return wire.BindText(b, j, shm.ParseHandle, OpenJoinable)
}

// String returns the text form of a pipe end's handle,
// "pipe:SEND;RECV", each a shm handle's text form or "-" for none.
func (h PipeHandle) String() string {
	part := func(x shm.Handle) string {
		if x.IsZero() {
			return "-"
		}
		return x.String()
	}
	return "pipe:" + part(h.Send) + ";" + part(h.Recv)
}

// ParsePipeHandle parses the text form made by PipeHandle.String.
func ParsePipeHandle(s string) (PipeHandle, error) {
	rest, ok := strings.CutPrefix(s, "pipe:")
	send, recv, ok2 := strings.Cut(rest, ";")
	if !ok || !ok2 {
		return PipeHandle{}, fmt.Errorf("parse pipe handle %q: %w", s, shm.ErrHandle)
	}
	var h PipeHandle
	for _, f := range []struct {
		text string
		dst  *shm.Handle
	}{{send, &h.Send}, {recv, &h.Recv}} {
		if f.text == "-" {
			continue
		}
		x, err := shm.ParseHandle(f.text)
		if err != nil {
			return PipeHandle{}, fmt.Errorf("parse pipe handle: %w", err)
		}
		*f.dst = x
	}
	return h, nil
}

// MarshalText returns the end's handle in its text form.
func (p *Pipe) MarshalText() ([]byte, error) { return wire.HandleText(p.Handle(), "pipe end") }

// UnmarshalText binds the pipe end a handle's text form names.
func (p *Pipe) UnmarshalText(b []byte) error { return wire.BindText(b, p, ParsePipeHandle, OpenPipe) }

// The same as binary, for gob (which does not use MarshalText).

// MarshalBinary is MarshalText, for gob.
func (q *Queue) MarshalBinary() ([]byte, error) { return q.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (q *Queue) UnmarshalBinary(b []byte) error { return q.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (t *Of[T]) MarshalBinary() ([]byte, error) { return t.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (t *Of[T]) UnmarshalBinary(b []byte) error { return t.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (j *Joinable) MarshalBinary() ([]byte, error) { return j.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (j *Joinable) UnmarshalBinary(b []byte) error { return j.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (p *Pipe) MarshalBinary() ([]byte, error) { return p.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (p *Pipe) UnmarshalBinary(b []byte) error { return p.UnmarshalText(b) }
