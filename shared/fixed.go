package shared

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// ShareableList is a fixed-length list, Python's ShareableList: its
// length is set when it is made and never changes; items can be read and
// replaced (by values of any size, unlike Python's). It is a List without
// Append, Pop and Clear, under its own kind, so a handle to one cannot be
// opened as the other.
type ShareableList[V any] struct {
	_ noCopy
	l *List[V]
}

// NewShareableList makes a ShareableList holding items, in heap h. With no
// items it is empty for good, as Python's ShareableList() is: Len 0, every
// index out of range (ErrIndex).
func NewShareableList[V any](h *shm.Heap, items []V, opts ...Option) (*ShareableList[V], error) {
	l, err := newFilledList(h, KindShareableList, items, opts, "new shareable list")
	if err != nil {
		return nil, err
	}
	return &ShareableList[V]{l: l}, nil
}

// newFilledList makes a list of kind holding items (none: a slot array of
// one, unused), and publishes it only once every item is in; on failure it
// frees what it allocated.
func newFilledList[V any](h *shm.Heap, kind shm.Kind, items []V, opts []Option, what string) (*List[V], error) {
	h, err := heapOrOwn(h, what)
	if err != nil {
		return nil, err
	}
	l, err := newList[V](h, kind, len(items), opts)
	if err != nil {
		return nil, err
	}
	if err := l.appendLocked(items); err != nil {
		h.Free(int64(l.c.hdr.root.Load()))
		h.Free(l.c.off)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	l.c.publish()
	return l, nil
}

// OpenShareableList binds a ShareableList from its handle.
func OpenShareableList[V any](hd Handle, opts ...Option) (*ShareableList[V], error) {
	l, err := openList[V](hd, KindShareableList, opts)
	if err != nil {
		return nil, err
	}
	return &ShareableList[V]{l: l}, nil
}

// Handle names the list for another process.
func (s *ShareableList[V]) Handle() Handle { return s.l.Handle() }

// Len returns the fixed length.
func (s *ShareableList[V]) Len() int { return s.l.Len() }

// Get returns item i (negative counts from the end).
func (s *ShareableList[V]) Get(i int) (V, error) { return s.l.Get(i) }

// GetContext is Get that stops waiting for the lock when ctx ends.
func (s *ShareableList[V]) GetContext(ctx context.Context, i int) (V, error) {
	return s.l.GetContext(ctx, i)
}

// Set replaces item i.
func (s *ShareableList[V]) Set(i int, v V) error { return s.l.Set(i, v) }

// SetContext is Set that stops waiting for the lock when ctx ends.
func (s *ShareableList[V]) SetContext(ctx context.Context, i int, v V) error {
	return s.l.SetContext(ctx, i, v)
}

// Update replaces item i with fn(item i), atomically.
func (s *ShareableList[V]) Update(i int, fn func(V) V) (V, error) { return s.l.Update(i, fn) }

// UpdateContext is Update that stops waiting for the lock when ctx ends.
func (s *ShareableList[V]) UpdateContext(ctx context.Context, i int, fn func(V) V) (V, error) {
	return s.l.UpdateContext(ctx, i, fn)
}

// Range calls fn for every item of a consistent snapshot.
func (s *ShareableList[V]) Range(fn func(i int, v V) bool) error { return s.l.Range(fn) }

// RangeContext is Range that stops waiting for the lock when ctx ends.
func (s *ShareableList[V]) RangeContext(ctx context.Context, fn func(i int, v V) bool) error {
	return s.l.RangeContext(ctx, fn)
}

// Slice returns a snapshot of the items.
func (s *ShareableList[V]) Slice() ([]V, error) { return s.l.Slice() }

// SliceContext is Slice that stops waiting for the lock when ctx ends.
func (s *ShareableList[V]) SliceContext(ctx context.Context) ([]V, error) {
	return s.l.SliceContext(ctx)
}

// Index returns the index of the first item equal to v (compared as
// encoded bytes), Python's sl.index(v); ErrNotFound if there is none.
func (s *ShareableList[V]) Index(v V) (int, error) { return s.l.Index(v) }

// IndexContext is Index that stops waiting for the lock when ctx ends.
func (s *ShareableList[V]) IndexContext(ctx context.Context, v V) (int, error) {
	return s.l.IndexContext(ctx, v)
}

// Count returns how many items equal v, Python's sl.count(v).
func (s *ShareableList[V]) Count(v V) (int, error) { return s.l.Count(v) }

// CountContext is Count that stops waiting for the lock when ctx ends.
func (s *ShareableList[V]) CountContext(ctx context.Context, v V) (int, error) {
	return s.l.CountContext(ctx, v)
}

// All returns an iterator over a snapshot of the items with their indexes,
// as List.All does.
func (s *ShareableList[V]) All(ctx context.Context) (iter.Seq2[int, V], error) { return s.l.All(ctx) }

// SetTimeout bounds how long this process's operations wait for the lock.
func (s *ShareableList[V]) SetTimeout(t time.Duration) { s.l.SetTimeout(t) }

// Record is one shared value of any type T, read and replaced whole and
// atomically: the equivalent of a Manager Namespace, typed. Give T the
// fields a Namespace would have:
//
//	type Progress struct{ Done, Total int; Stage string }
//	rec, _ := shared.NewRecord(heap, Progress{Total: 100})
//	rec.Update(func(p Progress) Progress { p.Done++; return p })
//
// Unlike shm.Value, T may hold strings, slices and maps (through the
// codec), and a process killed in the middle of Store leaves the old value
// or the new one, never a mix.
type Record[T any] struct {
	_ noCopy
	l *List[T]
}

// NewRecord makes a Record holding v, in heap h.
func NewRecord[T any](h *shm.Heap, v T, opts ...Option) (*Record[T], error) {
	l, err := newFilledList(h, KindRecord, []T{v}, opts, "new record")
	if err != nil {
		return nil, err
	}
	return &Record[T]{l: l}, nil
}

// OpenRecord binds a Record from its handle.
func OpenRecord[T any](hd Handle, opts ...Option) (*Record[T], error) {
	l, err := openList[T](hd, KindRecord, opts)
	if err != nil {
		return nil, err
	}
	return &Record[T]{l: l}, nil
}

// Handle names the record for another process.
func (r *Record[T]) Handle() Handle { return r.l.Handle() }

// Load returns the current value.
func (r *Record[T]) Load() (T, error) { return r.l.Get(0) }

// LoadContext is Load that stops waiting for the lock when ctx ends.
func (r *Record[T]) LoadContext(ctx context.Context) (T, error) { return r.l.GetContext(ctx, 0) }

// Store replaces the value.
func (r *Record[T]) Store(v T) error { return r.l.Set(0, v) }

// StoreContext is Store that stops waiting for the lock when ctx ends.
func (r *Record[T]) StoreContext(ctx context.Context, v T) error { return r.l.SetContext(ctx, 0, v) }

// Update replaces the value with fn(value), atomically across processes,
// and returns the new value.
func (r *Record[T]) Update(fn func(T) T) (T, error) { return r.l.Update(0, fn) }

// UpdateContext is Update that stops waiting for the lock when ctx ends.
func (r *Record[T]) UpdateContext(ctx context.Context, fn func(T) T) (T, error) {
	return r.l.UpdateContext(ctx, 0, fn)
}

// SetTimeout bounds how long this process's operations wait for the lock.
func (r *Record[T]) SetTimeout(t time.Duration) { r.l.SetTimeout(t) }
