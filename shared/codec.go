package shared

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"reflect"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/wire"
)

// Codec turns values that are not fixed-size and pointer-free into bytes
// and back: the one Codec of forkless, spawn's and the pool's too. Encode
// gets a pointer to the value; Decode a pointer to a zero value to fill.
type Codec = wire.Codec

// Gob encodes with encoding/gob: the default for values that are neither
// []byte, string, nor fixed-size and pointer-free.
var Gob = wire.Gob

// JSON encodes with encoding/json.
var JSON = wire.JSON

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
//	raw:   fixed-size, pointer-free V travels as its own bytes, wire's raw
//	       form (every process runs the same binary, so the layout is the
//	       same; the handle's type fingerprint checks it)
//	bytes: []byte as is
//	str:   string as its bytes
//	other: through the Codec
type valueCodec[V any] struct {
	mode  int
	raw   wire.Value[V]
	codec Codec
	fp    uint64
	bad   string // the part of V no codec can carry ("value.F (func())"), or ""
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
	vc := valueCodec[V]{codec: o.codec, fp: typeFingerprint(t), raw: wire.For[V](o.codec)}
	switch {
	case t == reflect.TypeFor[[]byte]():
		vc.mode = modeBytes
	case t == reflect.TypeFor[string]():
		vc.mode = modeString
	case vc.raw.Raw():
		vc.mode = modeRaw
	default:
		vc.mode = modeCodec
		vc.bad = wire.Unencodable(t, "value")
	}
	return vc
}

// encode returns v's bytes. For raw values they are wire's raw form in
// place, aliasing *v with no copy (the entry copies them into shared
// memory): use them before *v changes.
func (vc *valueCodec[V]) encode(v *V) ([]byte, error) {
	switch vc.mode {
	case modeRaw:
		return mapped.Bytes(v), nil
	case modeBytes:
		return *any(v).(*[]byte), nil
	case modeString:
		return []byte(*any(v).(*string)), nil
	}
	if vc.bad != "" {
		return nil, fmt.Errorf("encode %v: %s cannot travel to another process: %w", reflect.TypeFor[V](), vc.bad, ErrEncode)
	}
	cp := *v // only the copy escapes into the interface call, not *v
	b, err := vc.codec.Encode(&cp)
	if err != nil {
		return nil, fmt.Errorf("encode %v: value (%T) cannot travel to another process: %v: %w", reflect.TypeFor[V](), *v, err, ErrCodec)
	}
	return b, nil
}

// decode fills *v from b, which is shared memory: every mode copies.
func (vc *valueCodec[V]) decode(b []byte, v *V) error {
	switch vc.mode {
	case modeRaw:
		// wire's raw form, copied here rather than through wire.Value.Decode:
		// that one may hand v to a Codec, so v would escape and every Get
		// would allocate.
		if err := vc.checkRaw(int64(len(b)), v); err != nil {
			return err
		}
		copy(mapped.Bytes(v), b)
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

// checkRaw reports an n-byte stored value that cannot be a raw V.
func (vc *valueCodec[V]) checkRaw(n int64, v *V) error {
	if want := len(mapped.Bytes(v)); n != int64(want) {
		return fmt.Errorf("decode %T: %d bytes, want %d: %w", *v, n, want, ErrCorrupt)
	}
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
