package shm

import (
	"fmt"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
)

// Value is one T in shared memory: Python's RawValue, for any fixed-size,
// pointer-free T. Load and Store copy a T in or out of the mapped bytes;
// Ptr gives the mapped T itself. Plain loads and stores are not atomic: guard
// a Value that several processes write with a lock from package sync, or
// use the sync/atomic types as T (an atomic.Int64 field works in place
// through Ptr).
type Value[T any] struct {
	_ noCopy
	b Block
	p *T
}

// NewValue allocates a T in r: the zero T, or initial when given (Python's
// Value('q', 7) is NewValue(r, int64(7))). More than one initial value is
// refused (ErrSize).
func NewValue[T any](r *Region, initial ...T) (*Value[T], error) {
	if len(initial) > 1 {
		return nil, fmt.Errorf("new value with %d initial values: %w", len(initial), ErrSize)
	}
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("new value: %w", err)
	}
	if info.Size == 0 {
		return nil, fmt.Errorf("new value of zero-size %v: %w", info.Type, ErrSize)
	}
	b, err := r.Alloc(Layout{Kind: KindValue, Size: int64(info.Size), Elem: uint32(info.Size), Type: info.ID})
	if err != nil {
		return nil, fmt.Errorf("new value: %w", err)
	}
	v := &Value[T]{b: b, p: mapped.Must[T](b.r.mem, int(b.off))}
	if len(initial) == 1 {
		*v.p = initial[0] // before the handle can reach anyone
	}
	return v, nil
}

// OpenValue binds a Value made by NewValue, here or in another process, from
// its handle. The region must be attached in this process (spawn attaches the
// regions it passes). A handle of another kind or element type is refused.
func OpenValue[T any](h Handle) (*Value[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("open value: %w", err)
	}
	if h.Kind == KindValue && (h.Type != info.ID || h.Size != int64(info.Size)) {
		return nil, fmt.Errorf("open value of %v: handle names another element type: %w", info.Type, ErrType)
	}
	b, err := BindHandle(h, KindValue)
	if err != nil {
		return nil, fmt.Errorf("open value: %w", err)
	}
	// Bind checked the block against the region, and its size is T's.
	return &Value[T]{b: b, p: mapped.Must[T](b.r.mem, int(b.off))}, nil
}

// Load returns a copy of the shared T.
func (v *Value[T]) Load() (T, error) {
	if err := v.b.r.checkOpen(); err != nil {
		var zero T
		return zero, fmt.Errorf("load value: %w", err)
	}
	return *v.p, nil
}

// Store copies x into the shared T.
func (v *Value[T]) Store(x T) error {
	if err := v.b.r.checkOpen(); err != nil {
		return fmt.Errorf("store value: %w", err)
	}
	*v.p = x
	return nil
}

// Ptr returns the shared T in place: zero copies, and valid until the
// region is closed.
func (v *Value[T]) Ptr() *T { return v.p }

// Handle names the value for another process.
func (v *Value[T]) Handle() Handle { return v.b.Handle() }

// Region returns the region the value lives in.
func (v *Value[T]) Region() *Region { return v.b.r }
