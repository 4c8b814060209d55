package queue

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"hash/fnv"
	"reflect"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/wire"
)

// Codec turns values of T into message bytes and back, for Of.
// Encoding happens in Put, in the caller's goroutine, so an encoding error
// is Put's error (Python's feeder thread loses it).
type Codec[T any] interface {
	// Append appends the encoding of v to dst.
	Append(dst []byte, v T) ([]byte, error)
	// Decode fills v from the bytes of one message.
	Decode(src []byte, v *T) error
}

// fixedCodec is implemented by codecs whose encoding has a fixed size,
// which Of then writes and reads in place (no copy through a buffer).
type fixedCodec interface {
	fixedSize() int
	fingerprint() (elem uint32, typ uint64)
}

// RawCodec encodes a fixed-size, pointer-free T as its own bytes: no
// encoding at all. It is what Of uses for such types by default.
type RawCodec[T any] struct {
	info layout.Info
}

// NewRawCodec checks that T is fixed-size and pointer-free.
func NewRawCodec[T any]() (RawCodec[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return RawCodec[T]{}, fmt.Errorf("raw codec: %w", err)
	}
	return RawCodec[T]{info: info}, nil
}

func (c RawCodec[T]) fixedSize() int { return int(c.info.Size) }

func (c RawCodec[T]) fingerprint() (uint32, uint64) { return uint32(c.info.Size), c.info.ID }

// Append appends the bytes of v.
func (c RawCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	return append(dst, mapped.Bytes(&v)...), nil
}

// Decode copies src into v; src must be exactly the size of T.
func (c RawCodec[T]) Decode(src []byte, v *T) error {
	if uintptr(len(src)) != c.info.Size {
		return fmt.Errorf("decode %v: %d bytes, want %d: %w", c.info.Type, len(src), c.info.Size, ErrCorrupt)
	}
	copy(mapped.Bytes(v), src)
	return nil
}

// GobCodec encodes any gob-encodable T, each message self-contained (it
// carries its type description, so any process can decode any message).
// It is Of's default for types that hold pointers, strings, slices or
// maps. Plug in a faster codec (protobuf, a hand-written one) through the
// Codec interface.
type GobCodec[T any] struct{}

// Append appends the gob encoding of v.
func (GobCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(buf).Encode(&v); err != nil {
		// The one encoding-error style: the sentinel and the part that
		// cannot travel (or gob's own words when no part is to blame).
		if path := wire.Unencodable(reflect.TypeFor[T](), "value"); path != "" {
			return dst, fmt.Errorf("encode %s: %w", path, errs.ErrEncode)
		}
		return dst, fmt.Errorf("encode %T: %w: %w", v, errs.ErrEncode, err)
	}
	return buf.Bytes(), nil
}

// Decode decodes one message into v.
func (GobCodec[T]) Decode(src []byte, v *T) error {
	if err := gob.NewDecoder(bytes.NewReader(src)).Decode(v); err != nil {
		return fmt.Errorf("decode %T: %w", *v, err)
	}
	return nil
}

// codecFingerprint names T and the codec, so that opening a Of[T]
// made for another type (or codec) fails instead of misreading messages.
func codecFingerprint[T any](c Codec[T]) (uint32, uint64) {
	if f, ok := c.(fixedCodec); ok {
		return f.fingerprint()
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%v/%v", reflect.TypeFor[T](), reflect.TypeOf(c))
	return 0, h.Sum64() | 1
}
