package ring

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/shm"
)

const (
	maxParticipants = 64

	seqHole   = 1 << 63 // in a slot's seq: the position was revoked
	slotNoPos = ^uint64(0)

	// DefaultStallTimeout is how long a claimed but unfinished slot may
	// hold up the others before the liveness of its claimer is checked.
	DefaultStallTimeout = 100 * time.Millisecond
)

// MaxParticipants is how many MPMC values may be attached to one ring at
// once (over all processes); dead processes' entries are reused.
const MaxParticipants = maxParticipants

// MPMC is a multi-producer, multi-consumer ring of T in shared memory. Any
// number of goroutines in any number of processes may put and get; a
// producer or consumer that dies in the middle of an operation does not
// stall the others for longer than the stall timeout.
//
// It is Dmitry Vyukov's bounded queue: every slot carries a sequence word
// that says whose turn it is (mpmcSlot); producers claim positions with a
// CAS on the enqueue index, consumers on the dequeue index, n slots at once
// with one CAS; each slot's sequence store publishes that slot. A claim is
// recorded in the claimer's participant entry before its CAS, so that a
// claim left by a dead process can be told from a slow one
// (checkProducerStall has the argument).
type MPMC[T any] struct {
	_        slotNoCopy
	b        shm.Block
	l        *mpmcLayout
	ring     []mpmcSlot[T]
	mask     uint64
	slots    uint64
	enq      *atomic.Uint64
	deq      *atomic.Uint64
	closed   *atomic.Uint32
	notEmpty event.Count
	notFull  event.Count

	part                int // participant index, -1 once detached
	pushN, pushPos      *atomic.Uint64
	popN, popPos        *atomic.Uint64
	lastPushN, lastPopN uint64
	stallTimeout        atomic.Int64
	pushMu              sync.Mutex
	pushStall           slotStall
	pushDue             atomic.Int64 // when pushStall is due for a check (unix ns), 0: none; read by canPush without the mutex
	_                   slotPad
	popMu               sync.Mutex
	popStall            slotStall
	popDue              atomic.Int64
	self                proc.ID
}

// NewMPMC allocates an empty ring of at least capacity items of T in r (the
// capacity is rounded up to a power of two; Cap reports it) and attaches it
// as a participant of this process.
func NewMPMC[T any](r *shm.Region, capacity int) (*MPMC[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("new mpmc: %w", err)
	}
	g, size, err := slotGeometryFor(capacity, info, mpmcData, 8)
	if err != nil {
		return nil, fmt.Errorf("new mpmc: %w", err)
	}
	g.capacity = g.slots // Vyukov's sequence numbers need capacity == slots
	b, err := r.Alloc(shm.Layout{Kind: KindMPMC, Size: size, Elem: uint32(info.Size), Type: info.ID})
	if err != nil {
		return nil, fmt.Errorf("new mpmc: %w", err)
	}
	q, err := newMPMC[T](b, g)
	if err != nil {
		return nil, fmt.Errorf("new mpmc: %w", err)
	}
	// Slot i starts free for position i.
	for i := range q.ring {
		q.ring[i].seq.Store(uint64(i))
	}
	q.l.hdr.init(mpmcMagic, g, info)
	return q, nil
}

// OpenMPMC binds a ring made by NewMPMC (here or in another process) from
// its handle, and attaches it as a participant of this process.
func OpenMPMC[T any](h shm.Handle) (*MPMC[T], error) {
	info, err := layout.Of[T]()
	if err != nil {
		return nil, fmt.Errorf("open mpmc: %w", err)
	}
	b, g, err := openSlotBlock(h, KindMPMC, mpmcMagic, mpmcData, 8, info)
	if err == nil && g.capacity != g.slots {
		err = fmt.Errorf("capacity %d in %d slots: %w", g.capacity, g.slots, ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("open mpmc: %w", err)
	}
	q, err := newMPMC[T](b, g)
	if err != nil {
		return nil, fmt.Errorf("open mpmc: %w", err)
	}
	return q, nil
}

// newMPMC lays the ring's structs over b, whose geometry g was computed
// (NewMPMC) or validated (OpenMPMC) to fill it exactly, and attaches.
func newMPMC[T any](b shm.Block, g slotGeom) (*MPMC[T], error) {
	mem := b.Bytes()
	l, err := mapped.At[mpmcLayout](mem, 0)
	if err != nil {
		return nil, fmt.Errorf("ring header: %w (%w)", ErrCorrupt, err)
	}
	if g.stride != uint64(unsafe.Sizeof(mpmcSlot[T]{})) {
		return nil, fmt.Errorf("slot stride %d, want %d: %w", g.stride, unsafe.Sizeof(mpmcSlot[T]{}), ErrCorrupt)
	}
	ring, err := mapped.Slice[mpmcSlot[T]](mem, mpmcData, int(g.slots))
	if err != nil {
		return nil, fmt.Errorf("ring slots: %w (%w)", ErrCorrupt, err)
	}
	q := &MPMC[T]{
		b:        b,
		l:        l,
		ring:     ring,
		mask:     g.slots - 1,
		slots:    g.slots,
		enq:      &l.enq,
		deq:      &l.deq,
		closed:   &l.hdr.closed,
		notEmpty: l.notEmpty.Count(),
		notFull:  l.notFull.Count(),
		self:     proc.Self(),
	}
	q.stallTimeout.Store(int64(DefaultStallTimeout))
	if err := q.attach(); err != nil {
		return nil, err
	}
	return q, nil
}

// attach claims a participant entry: a free one (pid 0) or one whose
// process is dead. The pid CAS hands the entry to this value alone.
func (q *MPMC[T]) attach() error {
	for i := range q.l.parts {
		pt := &q.l.parts[i]
		pid := pt.pid.Load()
		if pid != 0 {
			if proc.Alive(proc.ID{Pid: int32(pid), Start: pt.start.Load()}) {
				continue
			}
		}
		if !pt.pid.CompareAndSwap(pid, uint32(q.self.Pid)) {
			continue
		}
		// The entry is ours. Record who we are before any claim, and drop
		// the claims a dead previous owner left (they no longer matter:
		// recovery only spares positions covered by LIVE participants).
		pt.start.Store(q.self.Start)
		q.part = i
		q.pushN, q.pushPos = &pt.pushN, &pt.pushPos
		q.popN, q.popPos = &pt.popN, &pt.popPos
		q.pushPos.Store(slotNoPos)
		q.popPos.Store(slotNoPos)
		q.pushN.Store(0)
		q.popN.Store(0)
		return nil
	}
	return fmt.Errorf("attach: %d participants alive: %w", maxParticipants, ErrCapacity)
}

// Detach frees this value's participant entry; the value is unusable
// afterwards (its operations fail with ErrClosed). The ring itself stays
// open for the others.
func (q *MPMC[T]) Detach() error {
	q.pushMu.Lock()
	defer q.pushMu.Unlock()
	q.popMu.Lock()
	defer q.popMu.Unlock()
	if q.part < 0 {
		return nil
	}
	q.l.parts[q.part].pid.Store(0)
	q.part = -1
	return nil
}

// SetStallTimeout sets how long this value waits on a claimed but
// unfinished slot before checking whether its claimer died (default
// DefaultStallTimeout). It is process-local.
func (q *MPMC[T]) SetStallTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultStallTimeout
	}
	q.stallTimeout.Store(int64(d))
}

// Handle names the ring for another process.
func (q *MPMC[T]) Handle() shm.Handle { return q.b.Handle() }

// Cap returns the most items the ring holds.
func (q *MPMC[T]) Cap() int { return int(q.slots) }

// Len returns the number of positions claimed by producers and not yet by
// consumers (a snapshot).
func (q *MPMC[T]) Len() int {
	d := q.deq.Load()
	e := q.enq.Load()
	if e < d || e-d > q.slots {
		return 0
	}
	return int(e - d)
}

// Close closes the ring for every process (see SPSC.Close).
func (q *MPMC[T]) Close() error {
	q.closed.Store(1)
	q.notEmpty.Notify()
	q.notFull.Notify()
	return nil
}

// Closed reports whether Close was called.
func (q *MPMC[T]) Closed() bool { return q.closed.Load() != 0 }

// seq is the sequence word of the slot of position pos.
func (q *MPMC[T]) seq(pos uint64) *atomic.Uint64 { return &q.ring[pos&q.mask].seq }

// val is the item of the slot of position pos.
func (q *MPMC[T]) val(pos uint64) *T { return &q.ring[pos&q.mask].val }

var errSlotDetached = fmt.Errorf("mpmc detached: %w", ErrClosed)

// TryPush appends v, or fails at once with ErrFull or ErrClosed.
func (q *MPMC[T]) TryPush(v T) error {
	one := [1]T{v}
	_, err := q.push(one[:])
	return err
}

// PushBatch appends as many of vs as are free right now, claiming them
// with one CAS, and returns how many. It fails with ErrFull when none are
// free and with ErrClosed after Close.
func (q *MPMC[T]) PushBatch(vs []T) (int, error) {
	if len(vs) == 0 {
		return 0, nil
	}
	return q.push(vs)
}

func (q *MPMC[T]) push(vs []T) (int, error) {
	q.pushMu.Lock()
	defer q.pushMu.Unlock()
	if q.part < 0 {
		return 0, errSlotDetached
	}
	if q.closed.Load() != 0 {
		return 0, errSlotPushClosed
	}
	var pos, k uint64
	for try := 0; ; try++ {
		if try == maxSlotRetries {
			return 0, errSlotPushBusy
		}
		pos = q.enq.Load()
		// Count the free slots from pos. A slot seen free (seq == its
		// position) stays free until that position is claimed, which only
		// the CAS below does, so the count holds if the CAS succeeds.
		k = 0
		for k < uint64(len(vs)) && q.seq(pos+k).Load() == pos+k {
			k++
		}
		if k == 0 {
			s := q.seq(pos).Load()
			full, err := q.pushSeq(pos, s)
			if err != nil {
				return 0, err
			}
			if !full {
				continue // enq moved on: another producer claimed pos
			}
			// Full: the slot still holds position pos-slots.
			q.checkConsumerStall(pos, s)
			return 0, errSlotPushFull
		}
		// Record the claim before making it (see recovery).
		if q.lastPushN != k {
			q.pushN.Store(k)
			q.lastPushN = k
		}
		q.pushPos.Store(pos)
		if q.enq.CompareAndSwap(pos, pos+k) { // claims [pos, pos+k)
			break
		}
		q.pushPos.Store(slotNoPos) // not ours: cover nothing while we retry or wait
	}
	if testHookAfterClaim != nil {
		testHookAfterClaim()
	}
	for i := uint64(0); i < k; i++ {
		*q.val(pos + i) = vs[i]
		q.seq(pos + i).Store(pos + i + 1) // publishes the slot to its consumer
	}
	q.clearStall(&q.pushStall, &q.pushDue)
	q.notEmpty.Notify()
	return int(k), nil
}

// testHookAfterClaim and testHookAfterPopClaim, when set (by tests only),
// run between a producer's claim and its publication, and between a
// consumer's claim and its release: the windows crash tests kill them in.
var testHookAfterClaim, testHookAfterPopClaim func()

// TryPop removes the oldest item, or fails at once with ErrEmpty, or with
// ErrClosed when the ring is closed and drained.
func (q *MPMC[T]) TryPop() (T, error) {
	var one [1]T
	_, err := q.pop(one[:])
	return one[0], err
}

// PopBatch moves up to len(dst) of the oldest ready items into dst,
// claiming them with one CAS, and returns how many.
func (q *MPMC[T]) PopBatch(dst []T) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	return q.pop(dst)
}

func (q *MPMC[T]) pop(dst []T) (int, error) {
	q.popMu.Lock()
	defer q.popMu.Unlock()
	if q.part < 0 {
		return 0, errSlotDetached
	}
	for try := 0; ; try++ {
		if try == maxSlotRetries {
			return 0, errSlotPopBusy
		}
		pos := q.deq.Load()
		k := uint64(0)
		for k < uint64(len(dst)) && q.seq(pos+k).Load()&^seqHole == pos+k+1 {
			k++
		}
		if k == 0 {
			s := q.seq(pos).Load()
			empty, err := q.popSeq(pos, s)
			if err != nil {
				return 0, err
			}
			if !empty {
				continue // deq moved on: another consumer took pos
			}
			if s == pos && q.enq.Load() > pos {
				// Claimed by a producer, not yet published.
				q.checkProducerStall(pos)
				return 0, errSlotPopEmpty
			}
			q.clearStall(&q.popStall, &q.popDue) // nothing claimed and unpublished here
			if q.closed.Load() != 0 && q.enq.Load() == pos {
				return 0, errSlotPopClosed
			}
			return 0, errSlotPopEmpty
		}
		if q.lastPopN != k {
			q.popN.Store(k)
			q.lastPopN = k
		}
		q.popPos.Store(pos)
		if !q.deq.CompareAndSwap(pos, pos+k) { // claims [pos, pos+k)
			q.popPos.Store(slotNoPos)
			continue
		}
		if testHookAfterPopClaim != nil {
			testHookAfterPopClaim()
		}
		n := 0
		for i := uint64(0); i < k; i++ {
			sq := q.seq(pos + i)
			if sq.Load()&seqHole == 0 {
				dst[n] = *q.val(pos + i)
				n++
			}
			sq.Store(pos + i + q.slots) // hands the slot to the producer of the next lap
		}
		q.clearStall(&q.popStall, &q.popDue)
		q.notFull.Notify()
		if n > 0 {
			return n, nil
		}
		// Only revoked positions: look again.
	}
}

// Push appends v, waiting for room until ctx is done.
func (q *MPMC[T]) Push(ctx context.Context, v T) error {
	one := [1]T{v}
	_, err := q.PushAll(ctx, one[:])
	return err
}

// PushAll appends every item of vs, claiming as many at a time as are free
// and waiting for room until ctx is done; it reports how many it appended.
func (q *MPMC[T]) PushAll(ctx context.Context, vs []T) (int, error) {
	done := 0
	for done < len(vs) {
		n, err := q.push(vs[done:])
		done += n
		if err == nil {
			continue
		}
		if err == errSlotPushBusy {
			err = nap(ctx)
		} else if !isSlotFull(err) {
			return done, err
		} else if err = ctx.Err(); err == nil {
			err = q.notFull.WaitFor(ctx, q.pushRecheck, q.canPush)
		}
		if err != nil {
			return done, fmt.Errorf("push: %w", err)
		}
	}
	return done, nil
}

// Pop removes the oldest item, waiting until ctx is done. After Close it
// returns what is left, then ErrClosed.
func (q *MPMC[T]) Pop(ctx context.Context) (T, error) {
	var one [1]T
	_, err := q.PopSome(ctx, one[:])
	return one[0], err
}

// PopSome waits until at least one item is ready (or ctx is done, or the
// ring is closed and drained), then moves up to len(dst) into dst.
func (q *MPMC[T]) PopSome(ctx context.Context, dst []T) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		n, err := q.pop(dst)
		if err == errSlotPopBusy {
			err = nap(ctx)
		} else if err == nil || !isSlotEmpty(err) {
			return n, err
		} else if err = ctx.Err(); err == nil {
			err = q.notEmpty.WaitFor(ctx, q.popRecheck, q.canPop)
		}
		if err != nil {
			return 0, fmt.Errorf("pop: %w", err)
		}
	}
}

func (q *MPMC[T]) recheck() time.Duration {
	return max(time.Duration(q.stallTimeout.Load())/4, time.Millisecond)
}

// idleRecheck is a waiter's re-check period while no stall is pending: what
// it waits for comes with a notification (a dead claimer is first seen
// after one, which starts the stall clock), so this is only a safety net,
// and an idle waiter costs one wake-up a second.
const idleRecheck = time.Second

// pushRecheck and popRecheck are a waiter's re-check periods: a quarter of
// the stall timeout while a stall is pending on its side, idleRecheck
// otherwise.
func (q *MPMC[T]) pushRecheck() time.Duration {
	if q.pushDue.Load() != 0 {
		return q.recheck()
	}
	return idleRecheck
}

func (q *MPMC[T]) popRecheck() time.Duration {
	if q.popDue.Load() != 0 {
		return q.recheck()
	}
	return idleRecheck
}

// canPush is the wake-up condition of a waiting producer: the slot of the
// next position is free, the ring is closed, or a stall is due for a check.
func (q *MPMC[T]) canPush() bool {
	if q.closed.Load() != 0 {
		return true
	}
	pos := q.enq.Load()
	if q.seq(pos).Load() == pos {
		return true
	}
	return stallDue(&q.pushDue)
}

// canPop is the wake-up condition of a waiting consumer.
func (q *MPMC[T]) canPop() bool {
	if q.closed.Load() != 0 {
		return true
	}
	pos := q.deq.Load()
	if q.seq(pos).Load()&^seqHole == pos+1 {
		return true
	}
	return stallDue(&q.popDue)
}
