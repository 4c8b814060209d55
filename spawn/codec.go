package spawn

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"unsafe"

	"github.com/forkless-go/forkless/internal/layout"
)

// encode turns v into bytes for another process of the same binary. A
// fixed-size, pointer-free T travels as its raw bytes, the fastest and
// exact form (both ends run the same binary, so the layout matches); any
// other T goes through encoding/gob.
func encode[T any](v T) ([]byte, error) {
	if info, err := layout.Of[T](); err == nil {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&v)), info.Size)
		return bytes.Clone(raw), nil
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		return nil, fmt.Errorf("%T: %v: %w", v, err, ErrEncode)
	}
	return buf.Bytes(), nil
}

func decode[T any](b []byte, v *T) error {
	if info, err := layout.Of[T](); err == nil {
		if uintptr(len(b)) != info.Size {
			return fmt.Errorf("%d bytes for a %d-byte %T", len(b), info.Size, *v)
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), info.Size), b)
		return nil
	}
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
}
