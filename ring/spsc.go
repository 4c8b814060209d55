package ring

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
)

// SPSC is a single-producer, single-consumer ring of T in shared memory.
// One goroutine (in any process) pushes, one pops.
//
// The producer owns the tail index, the consumer the head; each sits on its
// own cache line (spscLayout), and each side keeps a process-local copy of
// the other's index, reloading it only when the copy says the ring is full
// (producer) or empty (consumer), so in steady state a push touches only
// the slot and its own index. A Go atomic store is a full barrier on amd64
// (XCHG), the single largest per-item cost, so the batch forms publish a
// whole batch with one store.
type SPSC[T any] struct {
	_        slotNoCopy
	b        shm.Block
	l        *spscLayout
	slots    []T
	mask     uint64
	capacity uint64
	head     *atomic.Uint64
	tail     *atomic.Uint64
	closed   *atomic.Uint32
	notEmpty event.Count
	notFull  event.Count

	_          slotPad
	cachedHead uint64 // producer's copy of head
	resFrom    uint64 // producer: the tail at the last Reserve
	resTo      uint64 // producer: the position after the last Reserve's slots
	_          slotPad
	cachedTail uint64 // consumer's copy of tail
	peekFrom   uint64 // consumer: the head at the last Peek
	peekTo     uint64 // consumer: the position after the last Peek's items
	_          slotPad
}

// NewSPSC allocates an empty ring of capacity items of T in r.
func NewSPSC[T any](r *shm.Region, capacity int) (*SPSC[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("new spsc: %w", err)
	}
	g, size, err := slotGeometryFor(capacity, info, spscData, 0)
	if err != nil {
		return nil, fmt.Errorf("new spsc: %w", err)
	}
	b, err := r.Alloc(shm.Layout{Kind: KindSPSC, Size: size, Elem: uint32(info.Size), Type: info.ID})
	if err != nil {
		return nil, fmt.Errorf("new spsc: %w", err)
	}
	q, err := newSPSC[T](b, g)
	if err != nil {
		return nil, fmt.Errorf("new spsc: %w", err)
	}
	q.l.hdr.init(spscMagic, g, info)
	return q, nil
}

// OpenSPSC binds, in this process, a ring made by NewSPSC (here or in
// another process) from its handle. The region must be attached here
// (spawn attaches the regions it shares).
func OpenSPSC[T any](h shm.Handle) (*SPSC[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("open spsc: %w", err)
	}
	b, g, err := openSlotBlock(h, KindSPSC, spscMagic, spscData, 0, info)
	if err != nil {
		return nil, fmt.Errorf("open spsc: %w", err)
	}
	q, err := newSPSC[T](b, g)
	if err != nil {
		return nil, fmt.Errorf("open spsc: %w", err)
	}
	return q, nil
}

// newSPSC lays the ring's structs over b, whose geometry g was computed
// (NewSPSC) or validated (OpenSPSC) to fill it exactly.
func newSPSC[T any](b shm.Block, g slotGeom) (*SPSC[T], error) {
	mem := b.Bytes()
	l, err := mapped.At[spscLayout](mem, 0)
	if err != nil {
		return nil, fmt.Errorf("ring header: %w (%w)", ErrCorrupt, err)
	}
	slots, err := mapped.Slice[T](mem, spscData, int(g.slots))
	if err != nil {
		return nil, fmt.Errorf("ring slots: %w (%w)", ErrCorrupt, err)
	}
	q := &SPSC[T]{
		b:        b,
		l:        l,
		slots:    slots,
		mask:     g.slots - 1,
		capacity: g.capacity,
		head:     &l.head,
		tail:     &l.tail,
		closed:   &l.hdr.closed,
		notEmpty: l.notEmpty.Count(),
		notFull:  l.notFull.Count(),
	}
	q.cachedHead = q.head.Load()
	q.cachedTail = q.tail.Load()
	return q, nil
}

// Handle names the ring for another process.
func (q *SPSC[T]) Handle() shm.Handle { return q.b.Handle() }

// Cap returns the most items the ring holds.
func (q *SPSC[T]) Cap() int { return int(q.capacity) }

// Len returns the number of items in the ring (a snapshot: exact when
// neither side is moving).
func (q *SPSC[T]) Len() int {
	h := q.head.Load()
	t := q.tail.Load()
	if t < h || t-h > q.capacity {
		return 0 // a torn snapshot while both move
	}
	return int(t - h)
}

// Close closes the ring for every process: puts fail with ErrClosed; gets
// return what is left, then ErrClosed. Any process may call it, any number
// of times. It does not unmap anything.
func (q *SPSC[T]) Close() error {
	q.closed.Store(1) // hands "closed" to both sides; tail stores before it are visible with it
	q.notEmpty.Notify()
	q.notFull.Notify()
	return nil
}

// Closed reports whether Close was called.
func (q *SPSC[T]) Closed() bool { return q.closed.Load() != 0 }

// room returns how many slots the producer may fill from tail t, reloading
// head only when the cached copy says fewer than want (or is impossible).
// Indexes more than the capacity apart are ErrCorrupt: no schedule of the
// two sides makes them, only a write from outside.
func (q *SPSC[T]) room(t uint64, want uint64) (uint64, error) {
	used := t - q.cachedHead
	if used > q.capacity || q.capacity-used < want {
		q.cachedHead = q.head.Load() // acquire: the consumer is done with slots below head
		used = t - q.cachedHead
		if used > q.capacity {
			return 0, q.corrupt("push", q.cachedHead, t)
		}
	}
	return q.capacity - used, nil
}

// ready returns how many items the consumer may read from head h,
// reloading tail only when the cached copy says fewer than want (or is
// impossible); indexes more than the capacity apart are ErrCorrupt.
func (q *SPSC[T]) ready(h uint64, want uint64) (uint64, error) {
	n := q.cachedTail - h
	if n > q.capacity || n < want {
		q.cachedTail = q.tail.Load() // acquire: slots below tail are written
		n = q.cachedTail - h
		if n > q.capacity {
			return 0, q.corrupt("pop", h, q.cachedTail)
		}
	}
	return n, nil
}

func (q *SPSC[T]) corrupt(op string, h, t uint64) error {
	return fmt.Errorf("%s: head %d, tail %d in a ring of %d: %w", op, h, t, q.capacity, ErrCorrupt)
}

// TryPush appends v, or fails at once with ErrFull or ErrClosed.
func (q *SPSC[T]) TryPush(v T) error {
	if q.closed.Load() != 0 {
		return errSlotPushClosed
	}
	t := q.tail.Load()
	if free, err := q.room(t, 1); err != nil {
		return err
	} else if free == 0 {
		return errSlotPushFull
	}
	q.slots[t&q.mask] = v
	q.tail.Store(t + 1) // publishes the slot to the consumer
	q.notEmpty.Notify()
	return nil
}

// PushBatch appends as many of vs as fit, publishing them with one store,
// and returns how many it appended. It fails with ErrFull when none fit
// (and vs is not empty) and with ErrClosed after Close.
func (q *SPSC[T]) PushBatch(vs []T) (int, error) {
	if q.closed.Load() != 0 {
		return 0, errSlotPushClosed
	}
	if len(vs) == 0 {
		return 0, nil
	}
	t := q.tail.Load()
	free, err := q.room(t, uint64(len(vs)))
	if err != nil {
		return 0, err
	}
	n := min(free, uint64(len(vs)))
	if n == 0 {
		return 0, errSlotPushFull
	}
	i := t & q.mask
	c := copy(q.slots[i:], vs[:n])
	copy(q.slots, vs[c:n])
	q.tail.Store(t + n) // publishes all n slots at once
	q.notEmpty.Notify()
	return int(n), nil
}

// TryPop removes the oldest item, or fails at once with ErrEmpty, or with
// ErrClosed when the ring is closed and drained.
func (q *SPSC[T]) TryPop() (T, error) {
	h := q.head.Load()
	var zero T
	if n, err := q.ready(h, 1); err != nil {
		return zero, err
	} else if n == 0 {
		return zero, q.emptyErr(h)
	}
	v := q.slots[h&q.mask]
	q.head.Store(h + 1) // hands the slot back to the producer
	q.notFull.Notify()
	return v, nil
}

// emptyErr is ErrClosed when the ring is closed and still empty after the
// closed flag was seen (tail stores made before Close are visible then).
func (q *SPSC[T]) emptyErr(h uint64) error {
	if q.closed.Load() != 0 && q.tail.Load() == h {
		return errSlotPopClosed
	}
	return errSlotPopEmpty
}

// PopBatch moves up to len(dst) of the oldest items into dst with one
// store, and returns how many. It fails with ErrEmpty when there are none,
// and with ErrClosed when the ring is closed and drained.
func (q *SPSC[T]) PopBatch(dst []T) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	h := q.head.Load()
	avail, err := q.ready(h, uint64(len(dst)))
	if err != nil {
		return 0, err
	}
	n := min(avail, uint64(len(dst)))
	if n == 0 {
		return 0, q.emptyErr(h)
	}
	i := h & q.mask
	c := copy(dst[:n], q.slots[i:])
	copy(dst[c:n], q.slots)
	q.head.Store(h + n)
	q.notFull.Notify()
	return int(n), nil
}

// Reserve returns up to n free slots, contiguous in the ring, for the
// producer to fill in place; it returns fewer at the wrap or when the ring
// is fuller, and an empty slice when it is full, closed or corrupt (the
// next TryPush says which). Nothing is visible to the consumer until Commit.
func (q *SPSC[T]) Reserve(n int) []T {
	t := q.tail.Load()
	q.resFrom, q.resTo = t, t
	if n <= 0 || q.closed.Load() != 0 {
		return nil
	}
	free, err := q.room(t, uint64(n))
	if err != nil {
		return nil
	}
	i := t & q.mask
	k := min(free, uint64(n), uint64(len(q.slots))-i)
	q.resTo = t + k
	return q.slots[i : i+k : i+k]
}

// Commit publishes the first n slots returned by the last Reserve, with one
// store. n must not exceed what Reserve returned (panics otherwise). The
// position comes from the Reserve, not from the shared tail, so a tail
// changed in between by another process cannot make this one panic.
func (q *SPSC[T]) Commit(n int) {
	t := q.tail.Load()
	if t < q.resFrom || t > q.resTo {
		return // tail was overwritten since Reserve: publish nothing; the next put reports it
	}
	if n < 0 || uint64(n) > q.resTo-t {
		panic("forkless/ring: SPSC.Commit of more slots than reserved")
	}
	q.tail.Store(t + uint64(n))
	q.notEmpty.Notify()
}

// Peek returns up to n of the oldest items in place (contiguous in the
// ring: fewer at the wrap), without removing them; empty when there are
// none. They stay valid until Release.
func (q *SPSC[T]) Peek(n int) []T {
	if n <= 0 {
		return nil
	}
	h := q.head.Load()
	q.peekFrom, q.peekTo = h, h
	avail, err := q.ready(h, uint64(n))
	if err != nil {
		return nil // corrupt: the next TryPop reports it
	}
	i := h & q.mask
	k := min(avail, uint64(n), uint64(len(q.slots))-i)
	q.peekTo = h + k
	return q.slots[i : i+k : i+k]
}

// Release removes the first n items returned by the last Peek, handing
// their slots back to the producer with one store. n must not exceed what
// Peek returned (panics otherwise); a head changed since the Peek by
// another process releases nothing (the next get reports it).
func (q *SPSC[T]) Release(n int) {
	h := q.head.Load()
	if h < q.peekFrom || h > q.peekTo {
		return // head was overwritten since Peek: release nothing; the next get reports it
	}
	if n < 0 || uint64(n) > q.peekTo-h {
		panic("forkless/ring: SPSC.Release of more items than peeked")
	}
	q.head.Store(h + uint64(n))
	q.notFull.Notify()
}

// Push appends v, waiting for room until ctx is done.
func (q *SPSC[T]) Push(ctx context.Context, v T) error {
	for {
		err := q.TryPush(v)
		if err == nil || !isSlotFull(err) {
			return err
		}
		if err := q.waitRoom(ctx, 1); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
}

// PushAll appends every item of vs, in order, publishing as many at a time
// as fit and waiting for room until ctx is done. On error it reports how
// many were appended.
func (q *SPSC[T]) PushAll(ctx context.Context, vs []T) (int, error) {
	done := 0
	for done < len(vs) {
		n, err := q.PushBatch(vs[done:])
		done += n
		if err != nil && !isSlotFull(err) {
			return done, err
		}
		if done < len(vs) && n == 0 {
			if err := q.waitRoom(ctx, 1); err != nil {
				return done, fmt.Errorf("push all: %w", err)
			}
		}
	}
	return done, nil
}

// Pop removes the oldest item, waiting for one until ctx is done. After
// Close it returns what is left, then ErrClosed.
func (q *SPSC[T]) Pop(ctx context.Context) (T, error) {
	for {
		v, err := q.TryPop()
		if err == nil || !isSlotEmpty(err) {
			return v, err
		}
		if err := q.waitItems(ctx); err != nil {
			return v, fmt.Errorf("pop: %w", err)
		}
	}
}

// PopSome waits until at least one item is there (or ctx is done, or the
// ring is closed and drained), then moves up to len(dst) items into dst.
func (q *SPSC[T]) PopSome(ctx context.Context, dst []T) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		n, err := q.PopBatch(dst)
		if err == nil || !isSlotEmpty(err) {
			return n, err
		}
		if err := q.waitItems(ctx); err != nil {
			return 0, fmt.Errorf("pop: %w", err)
		}
	}
}

func (q *SPSC[T]) waitRoom(ctx context.Context, want uint64) error {
	return q.notFull.Wait(ctx, func() bool {
		return q.closed.Load() != 0 || q.capacity-(q.tail.Load()-q.head.Load()) >= want
	})
}

func (q *SPSC[T]) waitItems(ctx context.Context) error {
	return q.notEmpty.Wait(ctx, func() bool {
		return q.closed.Load() != 0 || q.tail.Load() != q.head.Load()
	})
}

// The errors of the hot paths are made once, so that a full or empty ring
// costs no allocation (errors.Is still finds the sentinels).
var (
	errSlotPushFull   = fmt.Errorf("push: %w", ErrFull)
	errSlotPushClosed = fmt.Errorf("push: %w", ErrClosed)
	errSlotPopEmpty   = fmt.Errorf("pop: %w", ErrEmpty)
	errSlotPopClosed  = fmt.Errorf("pop: %w", ErrClosed)
)

func isSlotFull(err error) bool  { return err == errSlotPushFull }
func isSlotEmpty(err error) bool { return err == errSlotPopEmpty }
