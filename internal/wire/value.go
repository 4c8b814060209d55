package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
)

// Encode turns v into bytes for another process of the same binary. A
// fixed-size, pointer-free T travels as its raw bytes, the fastest and
// exact form; any other T goes through c. what names the value in errors
// ("argument", "result").
func Encode[T any](c Codec, v T, what string) ([]byte, error) {
	if _, err := layout.Of[T](); err == nil {
		return bytes.Clone(mapped.Bytes(&v)), nil
	}
	if path := Unencodable(reflect.TypeFor[T](), what); path != "" {
		return nil, fmt.Errorf("%s of type %T: %s cannot travel to another process: %w", what, v, path, ErrEncode)
	}
	b, err := c.Encode(&v)
	if err != nil {
		return nil, fmt.Errorf("%s of type %T: %v: %w", what, v, err, ErrEncode)
	}
	return b, nil
}

// Decode fills *v from b, made by Encode with the same codec.
func Decode[T any](c Codec, b []byte, v *T) error {
	if info, err := layout.Of[T](); err == nil {
		if uintptr(len(b)) != info.Size {
			return fmt.Errorf("%d bytes for a %d-byte %T", len(b), info.Size, *v)
		}
		copy(mapped.Bytes(v), b)
		return nil
	}
	return c.Decode(b, v)
}

// Value encodes and decodes values of one type T as Encode and Decode do,
// with the layout check done once (by For) rather than per value: the form
// hot paths use.
type Value[T any] struct {
	c    Codec
	raw  bool
	size int
}

// For returns the Value of T with codec c.
func For[T any](c Codec) Value[T] {
	info, err := layout.Of[T]()
	return Value[T]{c: c, raw: err == nil, size: int(info.Size)}
}

// Raw reports whether T travels as its raw bytes.
func (vc Value[T]) Raw() bool { return vc.raw }

// Append appends *v's encoding to dst.
func (vc Value[T]) Append(dst []byte, v *T) ([]byte, error) {
	if vc.raw {
		return append(dst, mapped.Bytes(v)...), nil
	}
	b, err := vc.c.Encode(v)
	if err != nil {
		return dst, fmt.Errorf("argument of type %T: %v: %w", *v, err, ErrEncode)
	}
	return append(dst, b...), nil
}

// AppendField appends *v's encoding to dst, preceded by its uvarint length:
// a field a Reader takes back with Bytes.
func (vc Value[T]) AppendField(dst []byte, v *T) ([]byte, error) {
	if vc.raw {
		dst = binary.AppendUvarint(dst, uint64(vc.size))
		return append(dst, mapped.Bytes(v)...), nil
	}
	b, err := vc.c.Encode(v)
	if err != nil {
		return dst, fmt.Errorf("argument of type %T: %v: %w", *v, err, ErrEncode)
	}
	return AppendBytes(dst, b), nil
}

// Decode fills *v from b. A raw value of the wrong length is refused, with
// an error wrapping malformed when it is not nil.
func (vc Value[T]) Decode(b []byte, v *T, malformed error) error {
	if vc.raw {
		if len(b) != vc.size {
			if malformed == nil {
				return fmt.Errorf("%d bytes for a %d-byte %T", len(b), vc.size, *v)
			}
			return fmt.Errorf("%d bytes for a %d-byte %T: %w", len(b), vc.size, *v, malformed)
		}
		copy(mapped.Bytes(v), b)
		return nil
	}
	return vc.c.Decode(b, v)
}

// Unencodable names the first part of t that no codec can carry between
// processes (a channel, a function, an unsafe.Pointer), as a path from
// what: "argument.Jobs (chan int)". It returns "" when there is none.
// Unexported fields are skipped: the codecs skip them too.
func Unencodable(t reflect.Type, what string) string { return unencodable(t, what, 0) }

func unencodable(t reflect.Type, path string, depth int) string {
	if depth > 16 {
		return ""
	}
	if kindOf(t) != fdNone {
		return fmt.Sprintf("%s (%v: a descriptor travels only as a spawn argument or a field of one)", path, t)
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return fmt.Sprintf("%s (%v)", path, t)
	case reflect.Pointer:
		return unencodable(t.Elem(), path, depth+1)
	case reflect.Slice, reflect.Array:
		return unencodable(t.Elem(), path+"[]", depth+1)
	case reflect.Map:
		if p := unencodable(t.Key(), path+"[key]", depth+1); p != "" {
			return p
		}
		return unencodable(t.Elem(), path+"[value]", depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if p := unencodable(f.Type, path+"."+f.Name, depth+1); p != "" {
				return p
			}
		}
	}
	return ""
}
