package ring

// Fixed-slot rings: SPSC[T] and MPMC[T].
//
// A fixed-slot ring carries values of one fixed-size, pointer-free type T
// (checked by layout.Of, as shm.Value and shm.Array do) between processes,
// through an array of slots in a shared-memory block. NewSPSC/NewMPMC
// allocate the ring in a region; the Handle of the ring crosses the process
// boundary (as a field of a spawn argument, say), and OpenSPSC/OpenMPMC bind
// it again in the other process, checking the handle and the ring header
// against T: a wrong slot type or size, a zero, negative or absurd capacity,
// a corrupt header all give clear errors (ErrCapacity, shm.ErrType,
// ErrCorrupt), never a read outside the ring.
//
// SPSC is the fastest: one producer and one consumer, across all processes.
// The producer owns the tail index, the consumer the head; each sits on its
// own cache line and each side keeps a process-local copy of the other's
// index, reloading it only when the copy says the ring is full (producer)
// or empty (consumer), so in steady state a push touches only the slot and
// its own index. PushBatch/PopBatch (and the zero-copy Reserve/Commit,
// Peek/Release) publish a whole batch with one atomic store: a Go atomic
// store is a full barrier on amd64 (XCHG), the single largest per-item cost,
// so batching is what reaches 100M+ items/s.
//
// MPMC is Dmitry Vyukov's bounded queue: every slot carries a sequence word
// that says whose turn it is; producers claim positions with a CAS on the
// enqueue index, consumers on the dequeue index; a claim of n slots at once
// is one CAS. Each slot's sequence store publishes that slot.
//
// Blocking (Push/Pop and friends, with a context) spins, then sleeps on an
// EventCount: one for "not empty" (consumers sleep), one for "not full"
// (producers sleep). A put or get makes no system call when nobody sleeps on
// the other side (checked by tests with futex.Syscalls).
//
// Close marks the ring closed for every process: puts fail with ErrClosed
// at once; gets drain what is left, then fail with ErrClosed. Every put
// that returned before Close was called is delivered; a put racing with a
// Close made elsewhere may succeed and leave its item behind after the
// consumers saw "closed and empty" (the producer side should close).
//
// # Memory layout
//
// Both rings start with the same 64-byte header (see slots.go: magic,
// version, capacity, slot count (a power of two >= capacity, so an index
// maps to a slot with a mask while the capacity stays exactly what was
// asked), element size, stride, type fingerprint, closed word). Indices are
// 64-bit and never wrap in practice (2^64 items).
//
// SPSC (kind 0x0200), every line 64 bytes:
//
//	offset   field                  written by        read by
//	     0   header                 creator; Close    everyone
//	    64   head  uint64           consumer (store   producer (when its cached copy
//	                                after reading)    says full), Len
//	   128   tail  uint64           producer (store   consumer (when its cached copy
//	                                after writing)    says empty), Len
//	   192   notEmpty seq, waiters  EventCount        (consumers sleep on it)
//	   256   notFull  seq, waiters  EventCount        (producers sleep on it)
//	   320   slots [slots]T         producer writes   consumer reads slot i while
//	                                slot i while      head <= i < tail
//	                                tail <= i < head+capacity
//
// The tail store hands the written slots to the consumer; the head store
// hands the read slots back to the producer.
//
// MPMC (kind 0x0201):
//
//	offset   field                  written by              read by
//	     0   header                 creator; Close          everyone
//	    64   enq uint64             producers (CAS: claim)  producers, Len
//	   128   deq uint64             consumers (CAS: claim)  consumers, Len, recovery
//	   192   notEmpty seq, waiters  EventCount
//	   256   notFull  seq, waiters  EventCount
//	   320   participants [64]      one line each, below
//	  4416   slots, stride bytes each: seq uint64, then T (8-aligned)
//
// A participant line records one attached ring value (one OpenMPMC or
// NewMPMC), so that a claim left behind by a dead process can be told from
// a slow one:
//
//	+0  pid uint32          the attaching value (CAS 0 -> pid; reset by Detach or by
//	+8  start uint64        an attacher that finds the process dead)
//	+16 pushN uint64        the claim this participant is about to make or holds:
//	+24 pushPos uint64      positions [pushPos, pushPos+pushN), written before the CAS
//	+32 popN uint64         likewise for the consumer side
//	+40 popPos uint64
//
// Slot sequence words (Vyukov), for the slot of position p (p & (slots-1)):
//
//	seq == p               free for the producer of position p
//	seq == p+1             holds the item of position p, for its consumer
//	seq == p+1 | 1<<63     position p was revoked (its producer died): consumers skip it
//	seq == p+slots         read; free for the producer of position p+slots
//
// # Caveats
//
// SPSC: one producer and one consumer at a time, over all processes and
// goroutines (a second concurrent producer corrupts the ring; it is not
// detected). If the producer dies, the consumer drains what was published
// and then waits (until its context ends, or until someone calls Close,
// which any process may do: the parent that reaps a dead child should). A
// producer killed in the middle of PushBatch has published either none or
// all of the batch (one index store). If the consumer dies, the producer
// fills the ring and then waits likewise; items the dead consumer had
// popped are gone, items it had not popped stay in the ring for a new
// consumer.
//
// MPMC: a producer that dies between claiming positions and publishing them
// leaves a hole that would stall every consumer. A consumer that finds the
// oldest position claimed but unpublished for longer than the stall timeout
// (DefaultStallTimeout, 100 ms; SetStallTimeout changes it per value) reads
// the participant table: if no LIVE participant's recorded claim covers the
// position (liveness by pid and start time, see internal/proc), its claimer
// is dead, and the consumer revokes the position (and the rest of the dead
// claim) so every consumer skips it. The bound: a dead producer holds the
// consumers up for the stall timeout plus at most a quarter of it (the
// re-check period of a sleeping consumer) plus one scan of the table (up to
// 64 /proc reads), about 125 ms by default; it loses only the items it had
// not published. A live producer is never revoked, however slow: its
// record covers its claim from before the claim until after publication.
// Symmetrically, a consumer that dies between claiming and releasing slots
// loses those items (at most its batch), and producers recycle the slots
// after the stall timeout. Recovery needs a participant table entry per
// attached value: at most 64 live attachments per ring (ErrCapacity
// beyond); entries of dead processes are reused, and Detach frees one. One
// MPMC value serializes its own puts (and its own gets) with a
// process-local mutex, because its claim record is one line; open the ring
// once per goroutine for parallel puts inside one process.
//
// Both: the race detector does not see mapped memory; correctness is shown
// by cross-process stress tests that count every item exactly once. A ring
// value points into its region's mapping: closing the region (shm.Region.Close)
// while a goroutine of the same process is still inside a ring operation is
// a use after unmap and faults. Close (or stop using) the rings first, the
// region last.

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
// One goroutine (in any process) pushes, one pops; see the package notes.
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
	_          slotPad
	cachedTail uint64 // consumer's copy of tail
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
// head only when the cached copy says fewer than want.
func (q *SPSC[T]) room(t uint64, want uint64) uint64 {
	free := q.capacity - (t - q.cachedHead)
	if free < want {
		q.cachedHead = q.head.Load() // acquire: the consumer is done with slots below head
		free = q.capacity - (t - q.cachedHead)
	}
	return free
}

// ready returns how many items the consumer may read from head h,
// reloading tail only when the cached copy says fewer than want.
func (q *SPSC[T]) ready(h uint64, want uint64) uint64 {
	n := q.cachedTail - h
	if n < want {
		q.cachedTail = q.tail.Load() // acquire: slots below tail are written
		n = q.cachedTail - h
	}
	return n
}

// TryPush appends v, or fails at once with ErrFull or ErrClosed.
func (q *SPSC[T]) TryPush(v T) error {
	if q.closed.Load() != 0 {
		return errSlotPushClosed
	}
	t := q.tail.Load()
	if q.room(t, 1) == 0 {
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
	n := min(q.room(t, uint64(len(vs))), uint64(len(vs)))
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
	if q.ready(h, 1) == 0 {
		var zero T
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
	n := min(q.ready(h, uint64(len(dst))), uint64(len(dst)))
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
// is fuller, and an empty slice when it is full or closed. Nothing is
// visible to the consumer until Commit.
func (q *SPSC[T]) Reserve(n int) []T {
	if n <= 0 || q.closed.Load() != 0 {
		return nil
	}
	t := q.tail.Load()
	i := t & q.mask
	k := min(q.room(t, uint64(n)), uint64(n), uint64(len(q.slots))-i)
	return q.slots[i : i+k : i+k]
}

// Commit publishes the first n slots returned by the last Reserve, with one
// store. n must not exceed what Reserve returned (panics otherwise).
func (q *SPSC[T]) Commit(n int) {
	t := q.tail.Load()
	if n < 0 || uint64(n) > q.capacity-(t-q.cachedHead) {
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
	i := h & q.mask
	k := min(q.ready(h, uint64(n)), uint64(n), uint64(len(q.slots))-i)
	return q.slots[i : i+k : i+k]
}

// Release removes the first n items returned by the last Peek, handing
// their slots back to the producer with one store.
func (q *SPSC[T]) Release(n int) {
	h := q.head.Load()
	if n < 0 || uint64(n) > q.cachedTail-h {
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
