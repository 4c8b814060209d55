package shared

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"unsafe"

	"github.com/forkless-go/forkless/internal/layout"
)

// Codec turns values that are not fixed-size and pointer-free into bytes
// and back. It has the method set of spawn.Codec, so spawn.Gob and
// spawn.JSON serve here too. Encode gets a pointer to the value; Decode a
// pointer to a zero value to fill.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(data []byte, v any) error
}

// Gob encodes with encoding/gob: the default for values that are neither
// []byte, string, nor fixed-size and pointer-free.
var Gob Codec = gobCodec{}

// JSON encodes with encoding/json.
var JSON Codec = jsonCodec{}

type gobCodec struct{}

func (gobCodec) Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(v)
	return buf.Bytes(), err
}

func (gobCodec) Decode(b []byte, v any) error { return gob.NewDecoder(bytes.NewReader(b)).Decode(v) }

type jsonCodec struct{}

func (jsonCodec) Encode(v any) ([]byte, error) { return json.Marshal(v) }
func (jsonCodec) Decode(b []byte, v any) error { return json.Unmarshal(b, v) }

// Option configures a container when it is made or opened.
type Option func(*options)

type options struct {
	codec Codec
}

// WithCodec stores values that are not []byte, string, or fixed-size and
// pointer-free with c instead of Gob. Every process must open the container
// with the same codec.
func WithCodec(c Codec) Option { return func(o *options) { o.codec = c } }

// valueCodec is how one container stores its V:
//
//	raw:   fixed-size, pointer-free V travels as its own bytes, no copy to
//	       encode (every process runs the same binary, so the layout is the
//	       same; the handle's type fingerprint checks it)
//	bytes: []byte as is
//	str:   string as its bytes
//	other: through the Codec
type valueCodec[V any] struct {
	mode  int
	size  int
	codec Codec
	fp    uint64
}

const (
	modeRaw = iota
	modeBytes
	modeString
	modeCodec
)

func newValueCodec[V any](opts []Option) valueCodec[V] {
	o := options{codec: Gob}
	for _, f := range opts {
		f(&o)
	}
	t := reflect.TypeFor[V]()
	vc := valueCodec[V]{codec: o.codec, fp: typeFingerprint(t)}
	switch {
	case t == reflect.TypeFor[[]byte]():
		vc.mode = modeBytes
	case t == reflect.TypeFor[string]():
		vc.mode = modeString
	default:
		if info, err := layout.Of[V](); err == nil {
			vc.mode, vc.size = modeRaw, int(info.Size)
		} else {
			vc.mode = modeCodec
		}
	}
	return vc
}

// encode returns v's bytes. For raw values they alias *v: use them before
// *v changes.
func (vc *valueCodec[V]) encode(v *V) ([]byte, error) {
	switch vc.mode {
	case modeRaw:
		if vc.size == 0 {
			return nil, nil
		}
		return unsafe.Slice((*byte)(unsafe.Pointer(v)), vc.size), nil
	case modeBytes:
		return *any(v).(*[]byte), nil
	case modeString:
		return []byte(*any(v).(*string)), nil
	}
	cp := *v // only the copy escapes into the interface call, not *v
	b, err := vc.codec.Encode(&cp)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %v: %w", *v, err, ErrCodec)
	}
	return b, nil
}

// decode fills *v from b, which is shared memory: every mode copies.
func (vc *valueCodec[V]) decode(b []byte, v *V) error {
	switch vc.mode {
	case modeRaw:
		if len(b) != vc.size {
			return fmt.Errorf("decode %T: %d bytes, want %d: %w", *v, len(b), vc.size, ErrCorrupt)
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), vc.size), b)
		return nil
	case modeBytes:
		*any(v).(*[]byte) = bytes.Clone(b)
		return nil
	case modeString:
		*any(v).(*string) = string(b)
		return nil
	}
	var tmp V // only tmp escapes into the interface call, not *v
	if err := vc.codec.Decode(b, &tmp); err != nil {
		return fmt.Errorf("decode %T: %v: %w", *v, err, ErrCodec)
	}
	*v = tmp
	return nil
}

// typeFingerprint names a type in handles, so that opening a Dict[string,
// int64] as a Dict[string, float64] is refused.
func typeFingerprint(t reflect.Type) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%v/%d", t, t.Size())
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(h, "/%s@%d", f.Name, f.Offset)
		}
	}
	return h.Sum64()
}
