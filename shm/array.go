package shm

import (
	"fmt"
	"math"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
)

// Array is a fixed-length run of T in shared memory: Python's RawArray, for
// any fixed-size, pointer-free T. Get and Set check the index and the region;
// Slice gives the mapped elements themselves as a []T, at the speed of any Go
// slice. As with Value, concurrent writers need a lock or atomic elements.
type Array[T any] struct {
	_ noCopy
	b Block // zero Block for views made by ArrayAt
	r *Region
	s []T
}

// NewArray allocates n zero elements of T in r.
func NewArray[T any](r *Region, n int) (*Array[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("new array: %w", err)
	}
	if info.Size == 0 {
		return nil, fmt.Errorf("new array of zero-size %v: %w", info.Type, ErrSize)
	}
	if n <= 0 || uint64(n) > math.MaxInt64/uint64(info.Size) {
		return nil, fmt.Errorf("new array of %d elements: %w", n, ErrSize)
	}
	b, err := r.Alloc(Layout{Kind: KindArray, Size: int64(n) * int64(info.Size), Elem: uint32(info.Size), Type: info.ID})
	if err != nil {
		return nil, fmt.Errorf("new array: %w", err)
	}
	s, err := mapped.Slice[T](b.r.mem, int(b.off), n)
	if err != nil {
		return nil, fmt.Errorf("new array: %w", err)
	}
	return &Array[T]{b: b, r: b.r, s: s}, nil // b.r: r may be nil (a region of its own)
}

// NewArrayOf allocates an Array holding a copy of xs (at least one
// element) in r: Python's Array('d', [1.0, 2.0]).
func NewArrayOf[T any](r *Region, xs []T) (*Array[T], error) {
	a, err := NewArray[T](r, len(xs))
	if err != nil {
		return nil, err
	}
	copy(a.s, xs)
	return a, nil
}

// OpenArray binds an Array made by NewArray, here or in another process,
// from its handle. A handle of another kind or element type is refused.
func OpenArray[T any](h Handle) (*Array[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("open array: %w", err)
	}
	if h.Kind == KindArray && (h.Type != info.ID || h.Elem != uint32(info.Size)) {
		return nil, fmt.Errorf("open array of %v: handle names another element type: %w", info.Type, ErrType)
	}
	b, err := BindHandle(h, KindArray)
	if err != nil {
		return nil, fmt.Errorf("open array: %w", err)
	}
	if info.Size == 0 || b.size%int64(info.Size) != 0 {
		return nil, fmt.Errorf("open array: %d bytes is no whole number of %v: %w", b.size, info.Type, ErrType)
	}
	n := int(b.size / int64(info.Size))
	s, err := mapped.Slice[T](b.r.mem, int(b.off), n)
	if err != nil {
		return nil, fmt.Errorf("open array: %w", err)
	}
	return &Array[T]{b: b, r: b.r, s: s}, nil
}

// ArrayAt lays an Array of n elements over r's bytes at off, with no
// allocation and no handle: the way to read data another program placed at a
// known offset, such as a raw region made by Python. off must suit T's
// alignment and the n elements must lie inside the region.
func ArrayAt[T any](r *Region, off int64, n int) (*Array[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("array at %d: %w", off, err)
	}
	if err := r.checkOpen(); err != nil {
		return nil, fmt.Errorf("array at %d: %w", off, err)
	}
	if info.Size == 0 || n <= 0 || uint64(n) > math.MaxInt64/uint64(info.Size) {
		return nil, fmt.Errorf("array at %d of %d elements: %w", off, n, ErrSize)
	}
	lo := int64(0)
	if !r.raw {
		lo = headerSize // the header is not for views
	}
	size := int64(n) * int64(info.Size)
	if off < lo || off > r.size || size > r.size-off {
		return nil, fmt.Errorf("array at %d of %d bytes in a %d-byte region: %w", off, size, r.size, ErrRange)
	}
	if uintptr(off)%info.Align != 0 {
		return nil, fmt.Errorf("array at %d: misaligned for %v (align %d): %w", off, info.Type, info.Align, ErrRange)
	}
	s, err := mapped.Slice[T](r.mem, int(off), n)
	if err != nil {
		return nil, fmt.Errorf("array at %d: %v: %w", off, err, ErrRange)
	}
	return &Array[T]{r: r, s: s}, nil
}

// Len returns the number of elements.
func (a *Array[T]) Len() int { return len(a.s) }

// Get returns a copy of element i. As in Python, a negative i counts from
// the end (-1 is the last element); an index outside -Len()..Len()-1 is
// an error wrapping ErrRange.
func (a *Array[T]) Get(i int) (T, error) {
	var zero T
	if err := a.r.checkOpen(); err != nil {
		return zero, fmt.Errorf("get element %d: %w", i, err)
	}
	j, err := Index(i, len(a.s))
	if err != nil {
		return zero, fmt.Errorf("get element: %w", err)
	}
	return a.s[j], nil
}

// Set stores x as element i; a negative i counts from the end, as in Get.
func (a *Array[T]) Set(i int, x T) error {
	if err := a.r.checkOpen(); err != nil {
		return fmt.Errorf("set element %d: %w", i, err)
	}
	j, err := Index(i, len(a.s))
	if err != nil {
		return fmt.Errorf("set element: %w", err)
	}
	a.s[j] = x
	return nil
}

// Index turns a Python-style index i of a sequence of n elements into a Go
// index: i itself when 0 <= i < n, n+i when -n <= i < 0 (-1 is the last
// element). Anything else is an error wrapping ErrRange that names both.
func Index(i, n int) (int, error) {
	j := i
	if j < 0 {
		j += n
	}
	if j < 0 || j >= n {
		return 0, fmt.Errorf("index %d out of range for %d elements: %w", i, n, ErrRange)
	}
	return j, nil
}

// Slice returns the shared elements in place: no copy, and Go's own bounds
// checks. It returns nil once the region is closed; a slice taken before
// Close must not be used after it.
func (a *Array[T]) Slice() []T {
	if a.r.checkOpen() != nil {
		return nil
	}
	return a.s
}

// Handle names the array for another process. Views made by ArrayAt have no
// handle and return the zero Handle.
func (a *Array[T]) Handle() Handle {
	if a.b.r == nil {
		return Handle{}
	}
	return a.b.Handle()
}

// Region returns the region the array lives in.
func (a *Array[T]) Region() *Region { return a.r }
