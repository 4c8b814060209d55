package sync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"unsafe"

	tlayout "github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
)

// Kinds of the synchronized Value and Array.
const (
	KindValue shm.Kind = 0x010a
	KindArray shm.Kind = 0x010b
)

// syncedWords is the head of a synchronized Value's or Array's block; the
// elements follow at syncedData, so they start on their own cache line
// and any T is aligned.
type syncedWords struct {
	// mutex guards the elements (see mutexWords).
	mutex mutexWords
	_     [syncedData - 8]byte // reserved, zero
}

// syncedData is the offset of the elements in the block.
const syncedData = 64

var _ [0]struct{} = [unsafe.Sizeof(syncedWords{}) - syncedData]struct{}{}

func (w *syncedWords) validate() error { return w.mutex.validate() }

// synced is what Value and Array share: the block, its Mutex and where the
// elements lie.
type synced struct {
	o  obj
	mu *Mutex
}

// allocSynced allocates a block of n Ts behind a Mutex.
func allocSynced[T any](r *shm.Region, kind shm.Kind, n int, what string) (synced, tlayout.Info, error) {
	info, err := tlayout.Of[T]()
	if err != nil {
		return synced{}, info, fmt.Errorf("new %s: %w", what, err)
	}
	if info.Size == 0 || n <= 0 || uint64(n) > (math.MaxInt64-syncedData)/uint64(info.Size) {
		return synced{}, info, fmt.Errorf("new %s of %d elements of %v: %w", what, n, info.Type, shm.ErrSize)
	}
	b, err := r.Alloc(shm.Layout{Kind: kind, Size: syncedData + int64(n)*int64(info.Size), Elem: uint32(info.Size), Type: info.ID})
	if err != nil {
		return synced{}, info, fmt.Errorf("new %s: %w", what, err)
	}
	s, err := placeSynced(b, "new "+what)
	return s, info, err
}

// openSynced binds a block made by allocSynced for T; it returns the
// number of elements.
func openSynced[T any](h shm.Handle, kind shm.Kind, what string) (synced, int, error) {
	info, err := tlayout.Of[T]()
	if err != nil {
		return synced{}, 0, fmt.Errorf("open %s: %w", what, err)
	}
	if h.Kind == kind && (h.Type != info.ID || h.Elem != uint32(info.Size)) {
		return synced{}, 0, fmt.Errorf("open %s of %v: handle names another element type: %w", what, info.Type, shm.ErrType)
	}
	b, err := shm.BindHandle(h, kind)
	if err != nil {
		return synced{}, 0, fmt.Errorf("open %s: %w", what, err)
	}
	data := b.Len() - syncedData
	if info.Size == 0 || data <= 0 || data%int64(info.Size) != 0 {
		return synced{}, 0, fmt.Errorf("open %s: %d bytes hold no whole number of %v: %w", what, b.Len(), info.Type, shm.ErrHandle)
	}
	s, err := placeSynced(b, "open "+what)
	return s, int(data / int64(info.Size)), err
}

func placeSynced(b shm.Block, verb string) (synced, error) {
	o, _, err := place[syncedWords](obj{b: b, alloc: true}, verb)
	if err != nil {
		return synced{}, err
	}
	return synced{o: o, mu: mutexOf(o, 0)}, nil
}

// do runs f holding the Mutex. A Mutex taken from a dead holder runs f
// all the same, is marked consistent, and the error wraps ErrOwnerDead
// (see Value).
func (s *synced) do(ctx context.Context, verb string, f func()) error {
	err := s.mu.LockContext(ctx)
	if err != nil && !errors.Is(err, ErrOwnerDead) {
		return fmt.Errorf("%s: %w", verb, err)
	}
	defer s.mu.Unlock()
	f()
	if err != nil {
		s.mu.MarkConsistent()
		return fmt.Errorf("%s: %w", verb, err)
	}
	return nil
}

// Value is one T in shared memory with a Mutex beside it: Python's
// multiprocessing.Value (lock=True), where package shm's Value is
// RawValue. Load, Store and Update hold the Mutex; Mutex returns it for
// longer critical sections (Python's get_lock()), and Ptr the T itself,
// unguarded.
//
// A holder that died inside the Mutex may have left T half-written (a T
// wider than one machine word). Load and Update then still do their work
// and return an error wrapping ErrOwnerDead: the caller that gets it is
// the one told, and the Mutex is marked consistent, so check or repair the
// value then (Update can). Store overwrites the whole T, which is the
// repair: it returns nil. To follow the robust-lock model by hand
// (docs/robust.md), lock Mutex() yourself.
type Value[T any] struct {
	_ noCopy
	s synced
	p *T
}

// NewValue allocates a Value in r holding the zero T, or initial when
// given (Python's Value('q', 7) is NewValue(r, int64(7))).
func NewValue[T any](r *shm.Region, initial ...T) (*Value[T], error) {
	if len(initial) > 1 {
		return nil, fmt.Errorf("new value with %d initial values: %w", len(initial), ErrInvalid)
	}
	s, _, err := allocSynced[T](r, KindValue, 1, "value")
	if err != nil {
		return nil, err
	}
	v := &Value[T]{s: s, p: mapped.Must[T](s.o.b.Bytes(), syncedData)}
	if len(initial) == 1 {
		*v.p = initial[0] // before the handle can reach anyone
	}
	return v, nil
}

// OpenValue binds a Value made by NewValue, here or in another process,
// from its handle. A handle of another kind or element type is refused.
func OpenValue[T any](h shm.Handle) (*Value[T], error) {
	s, n, err := openSynced[T](h, KindValue, "value")
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, fmt.Errorf("open value: %d elements: %w", n, shm.ErrHandle)
	}
	return &Value[T]{s: s, p: mapped.Must[T](s.o.b.Bytes(), syncedData)}, nil
}

// Handle names the Value for another process.
func (v *Value[T]) Handle() shm.Handle { return v.s.o.handle() }

// Mutex returns the Mutex that guards the value: Python's get_lock().
func (v *Value[T]) Mutex() *Mutex { return v.s.mu }

// Ptr returns the shared T in place, unguarded: hold Mutex() around its
// use when other processes write it.
func (v *Value[T]) Ptr() *T { return v.p }

// Load returns a copy of the value, read under the Mutex.
func (v *Value[T]) Load(ctx context.Context) (T, error) {
	var x T
	if !v.s.o.live() {
		return x, closedErr("load value")
	}
	err := v.s.do(ctx, "load value", func() { x = *v.p })
	return x, err
}

// Store sets the value under the Mutex. After a holder's death it is the
// repair (the whole T is written): it marks the Mutex consistent and
// returns nil.
func (v *Value[T]) Store(ctx context.Context, x T) error {
	if !v.s.o.live() {
		return closedErr("store value")
	}
	err := v.s.do(ctx, "store value", func() { *v.p = x })
	if errors.Is(err, ErrOwnerDead) {
		return nil
	}
	return err
}

// Update calls f with the shared T while holding the Mutex: a
// read-modify-write no other process interleaves with (Python's
// "with v.get_lock(): v.value += 1").
func (v *Value[T]) Update(ctx context.Context, f func(p *T)) error {
	if !v.s.o.live() {
		return closedErr("update value")
	}
	return v.s.do(ctx, "update value", func() { f(v.p) })
}
