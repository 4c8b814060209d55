package shared

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
)

// Key names the key types of the first Dict: strings and byte slices (or
// types defined on them). Dict now takes any key type keyCodec accepts (see
// Dict); Key stays for code that names it.
type Key interface{ ~string | ~[]byte }

// keyCodec is how one dict stores its keys, as bytes that are hashed and
// compared:
//
//	str:    string as its bytes
//	bytes:  []byte as is
//	raw:    a fixed-size, pointer-free key (an integer, a float, an array,
//	        a struct of such) as its own bytes: d[65] needs no strconv.
//	        Keys are equal when their bytes are: a float's -0 and +0 are
//	        two keys, and each NaN with its own bits one key
//	named:  a type defined on string or []byte, through reflect
//
// Anything else (a map, a pointer, a struct holding a string) is refused
// when the dict is made or opened, with ErrEncode and the key's type.
type keyCodec[K any] struct{ mode int }

const (
	keyString = iota
	keyBytes
	keyRaw
	keyNamedString
	keyNamedBytes
)

func newKeyCodec[K any]() (keyCodec[K], error) {
	t := reflect.TypeFor[K]()
	switch {
	case t == reflect.TypeFor[string]():
		return keyCodec[K]{keyString}, nil
	case t == reflect.TypeFor[[]byte]():
		return keyCodec[K]{keyBytes}, nil
	case t.Kind() == reflect.String:
		return keyCodec[K]{keyNamedString}, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return keyCodec[K]{keyNamedBytes}, nil
	}
	if _, err := layout.Of[K](); err != nil {
		return keyCodec[K]{}, fmt.Errorf("key type %v: not a string, []byte or fixed-size, pointer-free type (%v): %w", t, err, ErrEncode)
	}
	return keyCodec[K]{keyRaw}, nil
}

// bytes returns *k's bytes. They alias *k for []byte and fixed-size keys:
// use them before *k changes.
func (kc keyCodec[K]) bytes(k *K) []byte {
	if s, ok := any(k).(*string); ok {
		return []byte(*s)
	}
	switch kc.mode {
	case keyBytes:
		return *any(k).(*[]byte)
	case keyRaw:
		return mapped.Bytes(k)
	}
	return kc.named(k)
}

func (kc keyCodec[K]) named(k *K) []byte {
	rv := reflect.ValueOf(k).Elem()
	if kc.mode == keyNamedString {
		return []byte(rv.String())
	}
	return rv.Bytes()
}

// key makes a K from stored bytes b (shared memory: every mode copies).
func (kc keyCodec[K]) key(b []byte) (K, error) {
	var k K
	switch kc.mode {
	case keyString:
		*any(&k).(*string) = string(b)
	case keyBytes:
		*any(&k).(*[]byte) = bytes.Clone(b)
	case keyRaw:
		dst := mapped.Bytes(&k)
		if len(b) != len(dst) {
			return k, fmt.Errorf("decode key %T: %d bytes, want %d: %w", k, len(b), len(dst), ErrCorrupt)
		}
		copy(dst, b)
	case keyNamedString:
		reflect.ValueOf(&k).Elem().SetString(string(b))
	case keyNamedBytes:
		reflect.ValueOf(&k).Elem().SetBytes(bytes.Clone(b))
	}
	return k, nil
}
