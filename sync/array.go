package sync

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
)

// Array is a fixed-length run of T in shared memory with a Mutex beside
// it: Python's multiprocessing.Array (lock=True), where package shm's
// Array is RawArray. Get, Set and Update hold the Mutex; Mutex returns it
// (get_lock()), Slice the elements themselves, unguarded (get_obj()).
// Indexes may be negative, counting from the end as in Python. A holder's
// death is handled as Value's: Get and Update return an error wrapping
// ErrOwnerDead after doing their work, Set returns it too (one element
// written repairs nothing else), and the Mutex is marked consistent.
type Array[T any] struct {
	_ noCopy
	s synced
	e []T
}

// NewArray allocates an Array of n zero elements in r.
func NewArray[T any](r *shm.Region, n int) (*Array[T], error) {
	s, _, err := allocSynced[T](r, KindArray, n, "array")
	if err != nil {
		return nil, err
	}
	return arrayOf[T](s, n, "new array")
}

// NewArrayOf allocates an Array holding a copy of xs (at least one
// element) in r: Python's Array('d', [1.0, 2.0]).
func NewArrayOf[T any](r *shm.Region, xs []T) (*Array[T], error) {
	a, err := NewArray[T](r, len(xs))
	if err != nil {
		return nil, err
	}
	copy(a.e, xs) // before the handle can reach anyone
	return a, nil
}

// OpenArray binds an Array made by NewArray, here or in another process,
// from its handle. A handle of another kind or element type is refused.
func OpenArray[T any](h shm.Handle) (*Array[T], error) {
	s, n, err := openSynced[T](h, KindArray, "array")
	if err != nil {
		return nil, err
	}
	return arrayOf[T](s, n, "open array")
}

func arrayOf[T any](s synced, n int, verb string) (*Array[T], error) {
	e, err := mapped.Slice[T](s.o.b.Bytes(), syncedData, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	return &Array[T]{s: s, e: e}, nil
}

// Handle names the Array for another process.
func (a *Array[T]) Handle() shm.Handle { return a.s.o.handle() }

// Mutex returns the Mutex that guards the elements: Python's get_lock().
func (a *Array[T]) Mutex() *Mutex { return a.s.mu }

// Len returns the number of elements.
func (a *Array[T]) Len() int { return len(a.e) }

// Slice returns the shared elements in place, unguarded (Python's
// get_obj()): hold Mutex() around its use when other processes write
// them. It returns nil once the region is closed.
func (a *Array[T]) Slice() []T {
	if !a.s.o.live() {
		return nil
	}
	return a.e
}

// Get returns a copy of element i, read under the Mutex. A negative i
// counts from the end (-1 is the last); outside -Len()..Len()-1 is an
// error wrapping shm.ErrRange.
func (a *Array[T]) Get(ctx context.Context, i int) (T, error) {
	var x T
	j, err := a.index("get element", i)
	if err != nil {
		return x, err
	}
	err = a.s.do(ctx, "get element", func() { x = a.e[j] })
	return x, err
}

// Set stores x as element i under the Mutex; i as in Get.
func (a *Array[T]) Set(ctx context.Context, i int, x T) error {
	j, err := a.index("set element", i)
	if err != nil {
		return err
	}
	return a.s.do(ctx, "set element", func() { a.e[j] = x })
}

// Update calls f with the elements in place while holding the Mutex.
func (a *Array[T]) Update(ctx context.Context, f func(s []T)) error {
	if !a.s.o.live() {
		return closedErr("update array")
	}
	return a.s.do(ctx, "update array", func() { f(a.e) })
}

func (a *Array[T]) index(verb string, i int) (int, error) {
	if !a.s.o.live() {
		return 0, closedErr(verb)
	}
	j, err := shm.Index(i, len(a.e))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", verb, err)
	}
	return j, nil
}
