package shm

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// Handle names a shared object so that another process can bind it again:
// the region (by id), where the object sits, its kind and its element type.
// A Handle is fixed-size and pointer-free, so it may itself be a field of a
// struct passed to a child or stored in shared memory.
//
// Binding checks the handle against the object header in the region, so a
// stale, forged or mistyped handle yields an error, never a wild read.
type Handle struct {
	Region uint64 // id of the region
	Offset int64  // offset of the payload in the region (64-aligned)
	Size   int64  // payload bytes
	Kind   Kind   // what the object is
	_      uint16
	Elem   uint32 // element size of typed objects
	Type   uint64 // element type fingerprint of typed objects
}

// HandleSize is the length of a handle's binary encoding, and of a Handle.
const HandleSize = 40

// A Handle travels as its raw bytes too (as a spawn argument, or a field of
// a struct in shared memory), so its layout is fixed, the same as its
// binary encoding: each line fails to compile unless the field sits at its
// offset.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Region)-0]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Offset)-8]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Size)-16]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Kind)-24]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Elem)-28]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Type)-32]
	_ = [1]struct{}{}[unsafe.Sizeof(Handle{})-HandleSize]
)

// IsZero reports whether h is the zero Handle, which names nothing.
func (h Handle) IsZero() bool { return h == Handle{} }

// String returns the text form of a handle,
//
//	forkless:1:REGION:KIND:OFFSET:SIZE:ELEM:TYPE
//
// with REGION and TYPE in hexadecimal and the rest in decimal. A Python
// process that opened the region finds the object at buf[OFFSET:OFFSET+SIZE].
func (h Handle) String() string {
	return fmt.Sprintf("forkless:1:%016x:%d:%d:%d:%d:%016x", h.Region, h.Kind, h.Offset, h.Size, h.Elem, h.Type)
}

// ParseHandle parses the text form made by Handle.String.
func ParseHandle(s string) (Handle, error) {
	f := strings.Split(s, ":")
	if len(f) != 8 || f[0] != "forkless" || f[1] != "1" {
		return Handle{}, fmt.Errorf("parse handle %q: not forkless:1:...: %w", s, ErrHandle)
	}
	var h Handle
	var err error
	var kind, elem uint64
	parsers := []func() error{
		func() error { h.Region, err = strconv.ParseUint(f[2], 16, 64); return err },
		func() error { kind, err = strconv.ParseUint(f[3], 10, 16); return err },
		func() error { h.Offset, err = strconv.ParseInt(f[4], 10, 64); return err },
		func() error { h.Size, err = strconv.ParseInt(f[5], 10, 64); return err },
		func() error { elem, err = strconv.ParseUint(f[6], 10, 32); return err },
		func() error { h.Type, err = strconv.ParseUint(f[7], 16, 64); return err },
	}
	for _, p := range parsers {
		if p() != nil {
			return Handle{}, fmt.Errorf("parse handle %q: %v: %w", s, err, ErrHandle)
		}
	}
	h.Kind, h.Elem = Kind(kind), uint32(elem)
	return h, nil
}

// MarshalBinary encodes h in HandleSize bytes, little-endian.
func (h Handle) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, HandleSize))
}

// AppendBinary appends the binary encoding of h to b.
func (h Handle) AppendBinary(b []byte) ([]byte, error) {
	le := binary.LittleEndian
	b = le.AppendUint64(b, h.Region)
	b = le.AppendUint64(b, uint64(h.Offset))
	b = le.AppendUint64(b, uint64(h.Size))
	b = le.AppendUint16(b, uint16(h.Kind))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, h.Elem)
	b = le.AppendUint64(b, h.Type)
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary made.
func (h *Handle) UnmarshalBinary(b []byte) error {
	if len(b) != HandleSize {
		return fmt.Errorf("decode handle: %d bytes, want %d: %w", len(b), HandleSize, ErrHandle)
	}
	le := binary.LittleEndian
	*h = Handle{
		Region: le.Uint64(b[0:]),
		Offset: int64(le.Uint64(b[8:])),
		Size:   int64(le.Uint64(b[16:])),
		Kind:   Kind(le.Uint16(b[24:])),
		Elem:   le.Uint32(b[28:]),
		Type:   le.Uint64(b[32:]),
	}
	return nil
}
