package sync

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/owner"
)

// The reader side of RWMutex. A reading process counts its read locks in
// a slot of its own (rwSlot), claimed at its first RLock; beyond rwSlots
// processes, in the reader word (untracked). See rwMutexWords for how
// readers and a writer meet.

// rlockHook, when set (by tests only), runs inside RLock's fast path just
// after its counting step: a test's child blocks there to be killed.
var rlockHook func()

func (rw *RWMutex) slotID(i int32) *atomic.Uint64    { return &rw.w.slots[i].id }
func (rw *RWMutex) slotCount(i int32) *atomic.Uint32 { return &rw.w.slots[i].count }

// readerSlot returns this process's reader slot, claiming one at first
// use, or -2 when every slot is taken by a live process.
func (rw *RWMutex) readerSlot() int32 {
	if s := rw.slot.Load(); s != -1 {
		return s
	}
	s := rw.claimSlot()
	rw.slot.Store(s)
	return s
}

func (rw *RWMutex) claimSlot() int32 {
	for i := range int32(rwSlots) {
		if rw.slotID(i).Load() == uint64(rw.o.me) {
			return i
		}
	}
	for i := range int32(rwSlots) {
		if rw.slotID(i).CompareAndSwap(0, uint64(rw.o.me)) {
			return i
		}
	}
	// Full: take back a dead process's slot.
	for i := range int32(rwSlots) {
		if v := rw.slotID(i).Load(); !owner.Alive(owner.Word(v)) {
			rw.reclaim(i, v)
			if rw.slotID(i).CompareAndSwap(0, uint64(rw.o.me)) {
				return i
			}
		}
	}
	return -2
}

// reclaim drops the read locks of slot i, whose process (id v) is dead,
// and frees the slot. The Swap hands the count to one reclaimer only; a
// count that drops to 0 wakes a sleeping writer.
func (rw *RWMutex) reclaim(i int32, v uint64) {
	if rw.slotCount(i).Swap(0) > 0 {
		rw.readersLeft()
	}
	rw.slotID(i).CompareAndSwap(v, 0)
}

// reclaimDead drops the read locks of every dead reading process. It
// reads /proc for each slot in use: writers call it only after sleeping.
func (rw *RWMutex) reclaimDead() {
	for i := range int32(rwSlots) {
		if v := rw.slotID(i).Load(); v != 0 && !owner.Alive(owner.Word(v)) {
			rw.reclaim(i, v)
		}
	}
}

// watchReaders watches every process holding read locks, for a writer
// waiting for them to leave; false if some cannot be watched (untracked
// readers among them).
func (rw *RWMutex) watchReaders(watch func(owner.Word) bool) bool {
	if rw.r.Load()&rwCount != 0 {
		return false
	}
	for i := range int32(rwSlots) {
		if rw.slotCount(i).Load() != 0 && !watch(owner.Word(rw.slotID(i).Load())) {
			return false
		}
	}
	return true
}

// noReaders reports whether no read lock is held: the reader word v
// counts none, and neither does any slot.
func (rw *RWMutex) noReaders(v uint32) bool {
	if v&rwCount != 0 {
		return false
	}
	for i := range int32(rwSlots) {
		if rw.slotCount(i).Load() != 0 {
			return false
		}
	}
	return true
}

// readersLeft is called after a count dropped to 0: if the writer sleeps
// waiting for readers, clear its bit (so that a sleep about to begin
// fails) and wake it. The loop ends: each failed CAS means the word moved,
// and once the bit is clear it returns.
func (rw *RWMutex) readersLeft() {
	for {
		v := rw.r.Load()
		if v&rwWriteSleep == 0 {
			return
		}
		if rw.r.CompareAndSwap(v, v&^rwWriteSleep) {
			futex.Wake(rw.r, -1)
			return
		}
	}
}

// RLock takes the lock for reading. It returns nil, or ErrOwnerDead when a
// writer died in the lock and no writer has marked the data consistent
// since (the caller holds a read lock in both cases; the data may be
// torn), or ErrNotRecoverable (without a read lock).
func (rw *RWMutex) RLock() error { return rw.RLockContext(context.Background()) }

// RLockContext is RLock that gives up when ctx ends.
//
// Lost wake-up argument: a reader blocked by bit 28 sets bit 29 with a CAS
// from v (bit 28 set) and sleeps expecting v|bit29. The writer's Unlock
// clears bits 28-30 in one atomic AND and wakes everyone if bit 29 was set
// in what it replaced. Either the AND comes first (the reader's CAS fails,
// it re-reads and enters) or the reader's CAS does (the AND sees bit 29 and
// wakes; a reader not yet asleep gets EAGAIN).
func (rw *RWMutex) RLockContext(ctx context.Context) error {
	if !rw.o.live() {
		return closedErr("rlock rwmutex")
	}
	// The uncontended case first, before a backoff is set up: starting
	// one reads the spin budget and zeroes its state.
	if rw.tryRead() {
		return rw.readHealth()
	}
	bo := newBackoff(ctx, rw.o.spin)
	defer bo.stop()
	for {
		v := rw.r.Load()
		if v&rwWriter == 0 {
			if rw.tryRead() {
				bo.won()
				return rw.readHealth()
			}
			continue
		}
		if bo.spin() {
			continue
		}
		if v&rwReadSleep == 0 {
			if !rw.r.CompareAndSwap(v, v|rwReadSleep) {
				continue
			}
			v |= rwReadSleep
		}
		bo.watchPeers(rw.r, func(watch func(owner.Word) bool) bool { return watch(rw.m.Holder()) })
		switch err := bo.sleep(rw.r, v); {
		case bo.napped(err):
			// The writer may have died holding or claiming the lock:
			// the lock becomes owner-dead, and this reader lets the
			// readers in (they all get ErrOwnerDead).
			if rw.m.RecoverDead() {
				rw.w.health.CompareAndSwap(rwConsistent, rwOwnerDead)
				rw.writerLeave()
			}
		case err != nil:
			return fmt.Errorf("rlock rwmutex: %w", err)
		}
	}
}

// tryRead takes a read lock if no writer holds or waits for the lock, and
// reports whether it did. A tracked reader counts first, then looks for a
// writer, and takes its count back if there is one.
func (rw *RWMutex) tryRead() bool {
	if s := rw.readerSlot(); s >= 0 {
		c := rw.slotCount(s)
		c.Add(1)
		if rlockHook != nil {
			rlockHook()
		}
		if rw.r.Load()&rwWriter == 0 {
			return true
		}
		if c.Add(^uint32(0)) == 0 {
			rw.readersLeft()
		}
		return false
	}
	for {
		v := rw.r.Load()
		if v&rwWriter != 0 {
			return false
		}
		if v&rwCount == rwCount {
			panic("forkless/sync: too many readers of an RWMutex")
		}
		if rw.r.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// readHealth answers a reader that got in: nil on a consistent lock,
// ErrOwnerDead (holding its read lock), or ErrNotRecoverable (without it).
func (rw *RWMutex) readHealth() error {
	switch rw.w.health.Load() {
	case rwConsistent:
		return nil
	case rwOwnerDead:
		return fmt.Errorf("rlock rwmutex: %w", ErrOwnerDead)
	}
	rw.RUnlock()
	return fmt.Errorf("rlock rwmutex: %w", ErrNotRecoverable)
}

// TryRLock takes a read lock if no writer holds or waits for the lock and
// the lock is consistent (RLock reports an owner-dead lock; TryRLock never
// takes one).
func (rw *RWMutex) TryRLock() bool {
	if !rw.o.live() || !rw.tryRead() {
		return false
	}
	if rw.w.health.Load() != rwConsistent {
		rw.RUnlock()
		return false
	}
	return true
}

// RUnlock releases one read lock. A handle that has read through its
// process's reader slot (the first 16 processes to read have one) finds its
// read locks counted there; when the slot's count and the shared count are
// both 0, either another process overwrote them or this one unlocked more
// than it locked, which RUnlock cannot tell apart without a count of its
// own on the read path (12 ns an RLock, measured): it returns, releasing
// nothing. Otherwise an RUnlock that finds no read lock to release panics,
// as sync.RWMutex does.
func (rw *RWMutex) RUnlock() {
	rw.o.mustLive("RWMutex")
	tracked := rw.slot.Load() >= 0 // this handle has read through its slot before
	if s := rw.readerSlot(); s >= 0 {
		// Only this process (alive: nobody reclaims its slot) writes
		// its count; a count of 0 means it holds no tracked read lock
		// (another view of this process may hold untracked ones).
		c := rw.slotCount(s)
		for {
			n := c.Load()
			if n == 0 {
				break
			}
			if c.CompareAndSwap(n, n-1) {
				if n == 1 {
					rw.readersLeft()
				}
				return
			}
		}
	}
	for {
		v := rw.r.Load()
		if v&rwCount == 0 {
			if tracked {
				return // counted in its slot: the counts were overwritten (see above)
			}
			panic("forkless/sync: RUnlock of an RWMutex not read-locked")
		}
		if rw.r.CompareAndSwap(v, v-1) {
			if (v-1)&rwCount == 0 {
				rw.readersLeft()
			}
			return
		}
	}
}

// Readers returns how many read locks are held.
func (rw *RWMutex) Readers() int {
	if !rw.o.live() {
		return 0
	}
	n := int(rw.r.Load() & rwCount)
	for i := range int32(rwSlots) {
		n += int(rw.slotCount(i).Load())
	}
	return n
}
