package queue

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
)

// A spill area (Config.Spill) is a shm.Heap in the queue's own region,
// named by ringHeader.spillArea. A message over the inline limit is copied
// into a block of it, and a small record flagged recFlagSpill points at
// the block (spillRef). Because the bytes are in the ring's region they
// live exactly as long as the ring: an anonymous region disappears with
// the last process that maps it, whatever kills them, and is sealed
// against truncation; nothing is ever created under /dev/shm. The cost is
// a bounded area, sized at New (a message takes at most half of it), and
// a put that waits while it is full.
//
// Who frees a block: whoever wins the CAS of the record's spillRef.off
// from the block's offset to 0 (the consumer at Release, or a recoverer
// freeing a dead owner's record), so a block is freed once. What can
// leak, until the region goes: the block of a producer killed between
// allocating it and pointing its claimed record at it, and of a process
// killed between winning that CAS and the Free: one block per kill, inside
// the region, never a file.

// spillRef is the payload of a spill record in a ring with a spill area.
type spillRef struct {
	// off: the producer (store, after claiming the record and before the
	// commit that publishes it); the consumer and recoverers (CAS to 0:
	// the right to free the block). 0: no block.
	off atomic.Uint64
	// length: the producer (before the commit); the consumer: message bytes.
	length atomic.Uint64
}

const spillRefLen = int(unsafe.Sizeof(spillRef{}))

var (
	_ = [1]struct{}{}[unsafe.Offsetof(spillRef{}.length)-8]
	_ = [1]struct{}{}[spillRefLen-16]
)

// errAreaFull: no block of the size asked is free in the spill area now.
var errAreaFull = fmt.Errorf("put: spill area: %w", ErrFull)

// newSpillArea allocates the ring's spill area in r and names it in the
// header, before the ring's handle has left this process.
func (q *records) newSpillArea(r *shm.Region, n int64) error {
	area, err := shm.NewHeap(r, n)
	if err != nil {
		return fmt.Errorf("allocate spill area: %w", err)
	}
	q.h.spillArea = area.Handle()
	q.area = area
	return nil
}

// openSpillArea binds the spill area the header names, if any, checking
// that it lies in the ring's own region.
func (q *records) openSpillArea() error {
	a := q.h.spillArea // a copy: the checks and the open see the same value
	if a.IsZero() {
		return nil
	}
	if a.Region != q.b.Handle().Region {
		return fmt.Errorf("spill area in region %#x, ring in %#x: %w", a.Region, q.b.Handle().Region, ErrCorrupt)
	}
	area, err := shm.OpenHeap(a)
	if err != nil {
		return fmt.Errorf("spill area: %w (%w)", ErrCorrupt, err)
	}
	q.area = area
	return nil
}

// spillRefAt returns the spillRef of the spill record at p, after checking
// the record's span and length.
func (q *records) spillRefAt(p uint64) (*spillRef, error) {
	s, err := q.span(p)
	if err != nil {
		return nil, err
	}
	pl, err := q.payload(p, s)
	if err != nil {
		return nil, err
	}
	if len(pl) != spillRefLen {
		return nil, fmt.Errorf("spill record at %d holds %d bytes: %w", p, len(pl), ErrCorrupt)
	}
	return mapped.At[spillRef](pl, 0)
}

// tryAllocArea allocates a block for a message of n bytes, or reports
// errAreaFull. Every block is of the ring's largest message (maxMsg): the
// heap never splits or merges blocks, so blocks of mixed sizes would let
// small messages carve the whole area into blocks too small for a large
// one, which would then wait forever; blocks of one size serve every
// message, and a put waits only while all are in use.
func (q *records) tryAllocArea(n int) (int64, []byte, error) {
	off, err := q.area.AllocRaw(int64(max(q.maxMsg, uint64(n)))) // the put writes all n bytes it hands on
	if errors.Is(err, shm.ErrNoSpace) {
		return 0, nil, errAreaFull
	}
	if err != nil {
		return 0, nil, fmt.Errorf("put %d bytes: spill area: %w", n, err)
	}
	b, err := q.area.Bytes(off, int64(n))
	if err != nil {
		q.area.Free(off) //nolint:errcheck // just allocated
		return 0, nil, fmt.Errorf("put %d bytes: spill area: %w", n, err)
	}
	return off, b, nil
}

// allocArea is tryAllocArea that waits for a block until ctx is done or
// the queue is closed. Blocks come back at Release (which notifies
// notFull) and when a dead reader's record is recovered (roomFor).
func (q *records) allocArea(ctx context.Context, n int) (int64, []byte, error) {
	for {
		off, b, err := q.tryAllocArea(n)
		if err != errAreaFull {
			return off, b, err
		}
		if q.closed.Load() != 0 {
			return 0, nil, fmt.Errorf("put: %w", ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			return 0, nil, fmt.Errorf("put: %w", err)
		}
		woke := false
		err = q.notFull.SleepFor(ctx, q.putRecheck, func() bool {
			q.advanceFreed()
			q.recoverReader() // a dead reader's record, and so its block
			if woke || q.closed.Load() != 0 {
				return true
			}
			woke = true
			return false
		})
		if err != nil {
			return 0, nil, fmt.Errorf("put: %w", err)
		}
	}
}

// pointAt points the spill record claimed at p at the block off of n
// bytes and commits it.
func (q *records) pointAt(p uint64, off int64, n int) error {
	ref, err := q.spillRefAt(p)
	if err != nil {
		q.area.Free(off) //nolint:errcheck // ours; the record's error says what went wrong
		q.abort(p)
		return fmt.Errorf("put: %w", err)
	}
	ref.length.Store(uint64(n))
	ref.off.Store(uint64(off))
	return nil
}

// putArea puts msg through the spill area, waiting until ctx is done.
func (q *records) putArea(ctx context.Context, msg []byte) error {
	off, b, err := q.allocArea(ctx, len(msg))
	if err != nil {
		return err
	}
	copy(b, msg)
	p, err := q.claim(ctx, spillRefLen, recFlagSpill)
	if err != nil {
		q.area.Free(off) //nolint:errcheck // ours
		return err
	}
	if err := q.pointAt(p, off, len(msg)); err != nil {
		return err
	}
	return q.commit(p, spillRefLen)
}

// tryPutArea is putArea that fails with ErrFull instead of waiting.
func (q *records) tryPutArea(msg []byte) error {
	off, b, err := q.tryAllocArea(len(msg))
	if err != nil {
		return err
	}
	copy(b, msg)
	p, err := q.tryClaimPut(spillRefLen, recFlagSpill)
	if err != nil {
		q.area.Free(off) //nolint:errcheck // ours
		return err
	}
	if err := q.pointAt(p, off, len(msg)); err != nil {
		return err
	}
	return q.commit(p, spillRefLen)
}

// areaReservation claims a spill record for a block (allocated by alloc)
// of n bytes, for Reserve.
func (q *records) areaReservation(off int64, b []byte, p uint64, err error) (Reservation, error) {
	if err != nil {
		q.area.Free(off) //nolint:errcheck // ours
		return Reservation{}, err
	}
	if err := q.pointAt(p, off, len(b)); err != nil {
		return Reservation{}, err
	}
	return Reservation{q: q, pos: p, buf: b, area: true}, nil
}

// commitArea commits a reserved spill record with n of its bytes.
func (q *records) commitArea(p uint64, n int) error {
	ref, err := q.spillRefAt(p)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	ref.length.Store(uint64(n))
	return q.commit(p, spillRefLen)
}

// areaMessage returns the message of the spill record this process took
// at p, in place in the spill area.
func (q *records) areaMessage(p, w uint64) (Message, error) {
	ref, err := q.spillRefAt(p)
	if err != nil {
		q.release(p, w) //nolint:errcheck // the record's error says it already
		return Message{}, fmt.Errorf("get: %w", err)
	}
	off, n := ref.off.Load(), ref.length.Load()
	b, err := q.area.Bytes(int64(off), int64(n))
	if off == 0 || n > uint64(shm.MaxSize) || err != nil {
		q.dropArea(p)
		q.release(p, w) //nolint:errcheck // corrupt already
		return Message{}, fmt.Errorf("get: spill record at %d names %d bytes at %d: %w", p, n, off, ErrCorrupt)
	}
	return Message{q: q, pos: p, word: w, buf: b, area: true}, nil
}

// dropArea frees the block the spill record at p points at, if this
// process wins the right to (the CAS of its offset to 0), and wakes
// producers waiting for room in the area. Errors are ignored: a corrupt
// record or block leaks, inside the region.
func (q *records) dropArea(p uint64) {
	ref, err := q.spillRefAt(p)
	if err != nil {
		return
	}
	off := ref.off.Load()
	if off == 0 || !ref.off.CompareAndSwap(off, 0) {
		return
	}
	q.area.Free(int64(off)) //nolint:errcheck // see above
	q.notFull.Notify()
}
