package wire

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"reflect"

	"github.com/forkless-go/forkless/internal/errs"
)

// ErrEncode: a value could not be encoded (or decoded) for another process.
// It is errs.ErrEncode, the one declaration of that meaning; spawn
// re-exports it as spawn.ErrEncode.
var ErrEncode = errs.ErrEncode

// Codec turns values that are not fixed-size and pointer-free into bytes and
// back. Both ends run the same binary and use the codec the function was
// registered with; the default is Gob.
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
	// gob sends what pointers point to, never the pointers: encoding **T
	// as *T gives the same bytes, and avoids gob's nil dereference on a
	// **T whose T is a BinaryMarshaler (a shared object as the argument).
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() &&
		rv.Elem().Kind() == reflect.Pointer && !rv.Elem().IsNil() {
		v = rv.Elem().Interface()
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(v)
	return buf.Bytes(), err
}

func (gobCodec) Decode(b []byte, v any) error { return gob.NewDecoder(bytes.NewReader(b)).Decode(v) }

type jsonCodec struct{}

func (jsonCodec) Encode(v any) ([]byte, error) { return json.Marshal(v) }
func (jsonCodec) Decode(b []byte, v any) error { return json.Unmarshal(b, v) }
