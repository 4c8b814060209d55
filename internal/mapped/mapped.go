package mapped

import (
	"fmt"
	"unsafe"

	"github.com/forkless-go/forkless/internal/errs"
)

// At returns the T that lies at b[off:], after checking that it fits in b
// and that its address is aligned for T.
func At[T any](b []byte, off int) (*T, error) {
	var zero T
	size, align := int(unsafe.Sizeof(zero)), uintptr(unsafe.Alignof(zero))
	if off < 0 || size > len(b) || off > len(b)-size {
		return nil, fmt.Errorf("%T at offset %d of %d bytes: out of bounds: %w", zero, off, len(b), errs.ErrCorrupt)
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if (uintptr(p)+uintptr(off))%align != 0 {
		return nil, fmt.Errorf("%T at offset %d: misaligned: %w", zero, off, errs.ErrCorrupt)
	}
	return (*T)(unsafe.Add(p, off)), nil
}

// Must is At for offsets this process computed from its own constants or
// from geometry it has already validated: a failure is this process's
// broken invariant, and it panics.
func Must[T any](b []byte, off int) *T {
	v, err := At[T](b, off)
	if err != nil {
		panic("forkless/internal/mapped: " + err.Error())
	}
	return v
}

// Slice returns n Ts that lie at b[off:], checked as At checks one.
func Slice[T any](b []byte, off, n int) ([]T, error) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if n < 0 || (size > 0 && n > len(b)/size) {
		return nil, fmt.Errorf("%d of %T at offset %d of %d bytes: out of bounds: %w", n, zero, off, len(b), errs.ErrCorrupt)
	}
	if n == 0 {
		return []T{}, nil
	}
	if off < 0 || off > len(b)-size*n {
		return nil, fmt.Errorf("%d of %T at offset %d of %d bytes: out of bounds: %w", n, zero, off, len(b), errs.ErrCorrupt)
	}
	first, err := At[T](b, off)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice(first, n), nil
}

// Bytes returns the memory of *v as bytes, for fixed-size, pointer-free T
// that travel as their raw bytes. The slice aliases *v.
func Bytes[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}
