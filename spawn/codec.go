package spawn

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/forkless-go/forkless/internal/layout"
)

// Codec turns arguments and results that are not fixed-size and
// pointer-free into bytes and back. Both ends run the same binary and use the
// codec the function was registered with (WithCodec); the default is Gob.
//
// Encode gets a pointer to the value; Decode gets a pointer to a zero value
// to fill.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(data []byte, v any) error
}

// Gob encodes with encoding/gob. It is the default codec. Interface values
// need gob.Register, and unexported struct fields do not travel.
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

// encode turns v into bytes for another process of the same binary. A
// fixed-size, pointer-free T travels as its raw bytes, the fastest and
// exact form (both ends run the same binary, so the layout matches); any
// other T goes through the codec. what names the value in errors
// ("argument", "result").
func encode[T any](c Codec, v T, what string) ([]byte, error) {
	if info, err := layout.Of[T](); err == nil {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&v)), info.Size)
		return bytes.Clone(raw), nil
	}
	if path := unencodable(reflect.TypeFor[T](), what, 0); path != "" {
		return nil, fmt.Errorf("%s of type %T: %s cannot travel to another process: %w", what, v, path, ErrEncode)
	}
	b, err := c.Encode(&v)
	if err != nil {
		return nil, fmt.Errorf("%s of type %T: %v: %w", what, v, err, ErrEncode)
	}
	return b, nil
}

func decode[T any](c Codec, b []byte, v *T) error {
	if info, err := layout.Of[T](); err == nil {
		if uintptr(len(b)) != info.Size {
			return fmt.Errorf("%d bytes for a %d-byte %T", len(b), info.Size, *v)
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), info.Size), b)
		return nil
	}
	return c.Decode(b, v)
}

// unencodable names the first part of t that no codec can carry between
// processes (a channel, a function, an unsafe.Pointer), as a path from
// what: "argument.Jobs (chan int)". It returns "" when there is none.
// Unexported fields are skipped: the codecs skip them too.
func unencodable(t reflect.Type, path string, depth int) string {
	if depth > 16 {
		return ""
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
