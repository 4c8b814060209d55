package sync

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/shm"
)

// rwSlots is how many reading processes an RWMutex tracks, so that a writer
// can take back the read locks of a reader that died. Readers of further
// processes read untracked.
const rwSlots = 16

// Reader word bits.
const (
	rwCount      = 1<<28 - 1 // readers holding the lock
	rwWriter     = 1 << 28   // a writer holds the lock or waits for readers to leave
	rwReadSleep  = 1 << 29   // some reader sleeps until rwWriter clears
	rwWriteSleep = 1 << 30   // the writer sleeps until the count drops to 0
)

// rwMutexWords is an RWMutex in shared memory.
type rwMutexWords struct {
	// writer is the writers' lock (see mutexWords): writers take it first,
	// so writers queue there and a dead writer is found like a dead Mutex
	// holder.
	writer mutexWords
	// readers is the reader word, also the futex word readers and the
	// writer sleep on:
	//   bits 0-27 readers holding the lock (RLock CAS +1, RUnlock CAS -1)
	//   bit    28 rwWriter: set by the writer after it took writer, cleared
	//             by its Unlock (or by whoever recovers from a dead writer)
	//   bit    29 rwReadSleep: a reader sleeps until bit 28 clears (set by
	//             that reader; cleared by the writer's Unlock, which wakes)
	//   bit    30 rwWriteSleep: the writer sleeps until the count is 0 (set
	//             by the writer; cleared by its Unlock; the RUnlock that
	//             drops the count to 0 wakes when it is set)
	// The writer's CAS that sees the count at 0 acquires what the last
	// reader's RUnlock released, and a reader's +1 what the writer's
	// Unlock released.
	readers atomic.Uint32
	// health is the robust-lock state of what the lock guards
	// (docs/robust.md): rwConsistent, rwOwnerDead (a writer died holding
	// or claiming the lock: every locker gets ErrOwnerDead until a writer
	// marks the data consistent) or rwNotRecoverable (a writer unlocked
	// without marking it: every locker gets ErrNotRecoverable). Written
	// only by the process holding writer (a recovering writer or reader,
	// MarkConsistent, Unlock), before it clears rwWriter; read by readers
	// after their +1 on readers (which acquires what the clear released)
	// and by writers once they hold writer.
	health atomic.Uint32
	// slots track one reading process each, so that a writer can take
	// back a dead reader's read locks.
	slots [rwSlots]rwSlot
}

// Health states of an RWMutex (rwMutexWords.health).
const (
	rwConsistent     = 0
	rwOwnerDead      = 1
	rwNotRecoverable = 2
)

// rwSlot is one reading process's entry in an RWMutex.
type rwSlot struct {
	// id is the process (an owner word's identity, no waiters bit):
	// claimed by the process with CAS 0 -> id at its first RLock, freed
	// with CAS id -> 0 by whoever reclaims it after the process died.
	id atomic.Uint64
	// count is the read locks this process holds: +1 after the reader
	// word's +1, -1 before the reader word's -1 (written by the process;
	// swapped to 0 by a reclaimer, so only one reclaimer returns them).
	count atomic.Uint32
	_     uint32 // reserved, zero
}

// RWMutexSize and RWMutexAlign are the bytes an RWMutex placed with
// RWMutexAt takes and the alignment its offset needs.
const (
	RWMutexSize  = int64(unsafe.Sizeof(rwMutexWords{}))
	RWMutexAlign = int64(unsafe.Alignof(rwMutexWords{}))
)

var (
	_ [0]struct{} = [RWMutexSize - 272]struct{}{}
	_ [0]struct{} = [RWMutexAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(rwMutexWords{}.slots) - 16]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(rwMutexWords{}.readers) - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(rwMutexWords{}.health) - 12]struct{}{}
	_ [0]struct{} = [unsafe.Sizeof(rwSlot{}) - 16]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(rwSlot{}.count) - 8]struct{}{}
)

func (w *rwMutexWords) validate() error {
	if err := w.writer.validate(); err != nil {
		return err
	}
	if v := w.readers.Load(); v>>31 != 0 {
		return fmt.Errorf("rwmutex reader word %#x: %w", v, shm.ErrCorrupt)
	}
	if h := w.health.Load(); h > rwNotRecoverable {
		return fmt.Errorf("rwmutex health %d: %w", h, shm.ErrCorrupt)
	}
	for i := range w.slots {
		if err := validID("rwmutex reader", w.slots[i].id.Load()); err != nil {
			return err
		}
	}
	return nil
}

// RWMutex is a reader/writer lock shared by processes: any number of
// readers, or one writer. A writer that wants the lock stops new readers
// from entering, so writers are not starved.
//
// A writer that dies holding (or waiting to take) the lock is found like a
// dead Mutex holder, by the next writer or by a blocked reader, and from
// then on the lock is owner-dead (docs/robust.md): every Lock and RLock
// returns ErrOwnerDead, holding the lock, until a writer that holds it
// repairs the data and calls MarkConsistent. A reader cannot repair (other
// readers may be in): it only reads knowing the data may be torn. A writer
// that unlocks an owner-dead lock without MarkConsistent makes it
// unrecoverable: every later Lock and RLock returns ErrNotRecoverable. A
// reader that dies while holding read locks is found by a writer that has slept waiting for
// readers: it swaps the dead process's count to zero and takes that many
// off the reader word, and gets the lock normally (readers change nothing,
// so there is nothing to repair). The count moves after the reader word on
// RLock and before it on RUnlock, so a reader dying between the two steps
// can only leak its one read lock, never make a writer take back more than
// was held; a reader of a 17th process, or one dying in that window, is not
// recovered.
type RWMutex struct {
	_    noCopy
	o    obj
	m    owner.Lock
	w    *rwMutexWords
	r    *atomic.Uint32
	slot atomic.Int32 // this process's reader slot; -1 unknown, -2 none
}

// NewRWMutex allocates an unlocked RWMutex in r.
func NewRWMutex(r *shm.Region) (*RWMutex, error) {
	return newRWMutex(allocObj[rwMutexWords](r, KindRWMutex, "rwmutex"))
}

// OpenRWMutex binds an RWMutex made by NewRWMutex from its handle.
func OpenRWMutex(h shm.Handle) (*RWMutex, error) {
	return newRWMutex(openObj[rwMutexWords](h, KindRWMutex, "rwmutex"))
}

// RWMutexAt places an RWMutex at offset off of another package's block; see
// MutexAt for the rules.
func RWMutexAt(b shm.Block, off int64) (*RWMutex, error) {
	return newRWMutex(atObj[rwMutexWords](b, off, "rwmutex"))
}

func newRWMutex(o obj, w *rwMutexWords, err error) (*RWMutex, error) {
	if err != nil {
		return nil, err
	}
	// A plain lock: the robust-lock state lives in health, since readers
	// must see it and a reader that recovers must release the lock.
	m := o.lock(unsafe.Offsetof(rwMutexWords{}.writer) + unsafe.Offsetof(mutexWords{}.owner))
	rw := &RWMutex{o: o, m: m, w: w, r: &w.readers}
	rw.slot.Store(-1)
	return rw, nil
}

func (rw *RWMutex) slotID(i int32) *atomic.Uint64    { return &rw.w.slots[i].id }
func (rw *RWMutex) slotCount(i int32) *atomic.Uint32 { return &rw.w.slots[i].count }

// readerSlot returns this process's reader slot, claiming one at first use.
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

// reclaim returns the read locks of slot i, whose process (id v) is dead,
// and frees the slot. The Swap hands the count to one reclaimer only.
func (rw *RWMutex) reclaim(i int32, v uint64) {
	if n := rw.slotCount(i).Swap(0); n > 0 {
		for {
			w := rw.r.Load()
			k := min(w&rwCount, n)
			nw := w - k
			if nw&rwCount == 0 {
				nw &^= rwWriteSleep
			}
			if rw.r.CompareAndSwap(w, nw) {
				if nw&rwCount == 0 && w&rwWriteSleep != 0 {
					futex.Wake(rw.r, -1)
				}
				break
			}
		}
	}
	rw.slotID(i).CompareAndSwap(v, 0)
}

// reclaimDead returns the read locks of every dead reading process. It
// reads /proc for each slot in use: writers call it only after sleeping.
func (rw *RWMutex) reclaimDead() {
	for i := range int32(rwSlots) {
		if v := rw.slotID(i).Load(); v != 0 && !owner.Alive(owner.Word(v)) {
			rw.reclaim(i, v)
		}
	}
}

// Handle names the RWMutex for another process.
func (rw *RWMutex) Handle() shm.Handle { return rw.o.handle() }

// Lock takes the lock for writing. It returns nil, or ErrOwnerDead when a
// writer died in the lock and nobody has marked the data consistent since
// (the caller holds the lock in both cases: repair, then MarkConsistent),
// or ErrNotRecoverable (without the lock).
func (rw *RWMutex) Lock() error { return rw.LockContext(context.Background()) }

// LockContext is Lock that gives up when ctx ends.
//
// Lost wake-up argument for the wait on readers: the writer sets bit 30
// with a CAS from a value v whose count is non-zero, then sleeps expecting
// v|bit30. The RUnlock that takes the count to 0 does so with a CAS, and
// if the value it replaced had bit 30 it wakes every sleeper on the word.
// If that RUnlock's CAS came before the writer's, the writer's CAS fails
// and it re-reads the count; if after, the RUnlock sees bit 30 and wakes,
// and a writer not yet asleep finds the word changed (EAGAIN).
func (rw *RWMutex) LockContext(ctx context.Context) error {
	if !rw.o.live() {
		return closedErr("lock rwmutex")
	}
	if err := rw.lockWriter(ctx); err != nil {
		return err
	}
	rw.r.Or(rwWriter)
	bo := newBackoff(ctx, rw.o.spin)
	for {
		v := rw.r.Load()
		if v&rwCount == 0 {
			bo.won()
			break
		}
		if bo.spin() {
			continue
		}
		if v&rwWriteSleep == 0 {
			if !rw.r.CompareAndSwap(v, v|rwWriteSleep) {
				continue
			}
			v |= rwWriteSleep
		}
		switch err := bo.sleep(rw.r, v); {
		case err == nil:
		case err == errNap:
			rw.reclaimDead() // a reader may have died holding its lock
		default:
			rw.writerLeave()
			return fmt.Errorf("lock rwmutex: %w", err)
		}
	}
	if rw.w.health.Load() == rwOwnerDead {
		return fmt.Errorf("lock rwmutex: %w", ErrOwnerDead)
	}
	return nil
}

// lockWriter takes the writers' lock. Taking it from a dead writer makes
// the lock owner-dead; an unrecoverable lock is given back at once.
func (rw *RWMutex) lockWriter(ctx context.Context) error {
	err := rw.m.LockContext(ctx)
	switch {
	case err == ErrOwnerDead:
		rw.w.health.CompareAndSwap(rwConsistent, rwOwnerDead)
	case err != nil:
		return fmt.Errorf("lock rwmutex: %w", err)
	}
	if rw.w.health.Load() == rwNotRecoverable {
		rw.m.Unlock()
		return fmt.Errorf("lock rwmutex: %w", ErrNotRecoverable)
	}
	return nil
}

// MarkConsistent records that the data the lock guards is consistent again
// after a writer died in it (pthread_mutex_consistent): Lock and RLock
// return nil again from the next Unlock on. Only the writer holding the
// lock may call it (it panics otherwise); it does nothing when the lock is
// not owner-dead.
func (rw *RWMutex) MarkConsistent() {
	rw.mustWriteHold("MarkConsistent")
	rw.w.health.CompareAndSwap(rwOwnerDead, rwConsistent)
}

func (rw *RWMutex) mustWriteHold(what string) {
	rw.o.mustLive("RWMutex")
	if !rw.m.HeldByMe() || rw.r.Load()&rwWriter == 0 {
		panic("forkless/sync: " + what + " of an RWMutex not write-locked by this process")
	}
}

// TryLock takes the lock for writing if it is free of readers and writers
// and consistent (Lock reports an owner-dead lock; TryLock never takes one).
func (rw *RWMutex) TryLock() bool {
	if !rw.o.live() || !rw.m.TryLock() {
		return false
	}
	if rw.w.health.Load() == rwConsistent && rw.r.CompareAndSwap(0, rwWriter) {
		return true
	}
	rw.m.Unlock()
	return false
}

// writerLeave drops the writer's claim and wakes readers that wait for it.
func (rw *RWMutex) writerLeave() {
	if old := rw.r.And(^uint32(rwWriter | rwReadSleep | rwWriteSleep)); old&rwReadSleep != 0 {
		futex.Wake(rw.r, -1)
	}
	rw.m.Unlock()
}

// Unlock releases the write lock. Unlocking an owner-dead lock without
// MarkConsistent makes it unrecoverable. Unlocking an RWMutex that this
// process does not hold for writing panics.
func (rw *RWMutex) Unlock() {
	rw.mustWriteHold("unlock")
	rw.w.health.CompareAndSwap(rwOwnerDead, rwNotRecoverable)
	rw.writerLeave()
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
	// one reads the spin budget and zeroes its state, which cost the fast
	// path about 4 ns (12%) when the spin moved to internal/spin.
	if v := rw.r.Load(); v&(rwWriter|rwCount) < rwCount && rw.r.CompareAndSwap(v, v+1) {
		rw.countRead()
		if rw.w.health.Load() != rwConsistent {
			return rw.readUnhealthy()
		}
		return nil
	}
	bo := newBackoff(ctx, rw.o.spin)
	for {
		v := rw.r.Load()
		if v&rwWriter == 0 {
			if v&rwCount == rwCount {
				panic("forkless/sync: too many readers of an RWMutex")
			}
			if rw.r.CompareAndSwap(v, v+1) {
				rw.countRead()
				bo.won()
				if rw.w.health.Load() != rwConsistent {
					return rw.readUnhealthy()
				}
				return nil
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
		switch err := bo.sleep(rw.r, v); {
		case err == nil:
		case err == errNap:
			// The writer may have died holding or claiming the lock:
			// the lock becomes owner-dead, and this reader lets the
			// readers in (they all get ErrOwnerDead).
			if rw.m.RecoverDead() {
				rw.w.health.CompareAndSwap(rwConsistent, rwOwnerDead)
				rw.writerLeave()
			}
		default:
			return fmt.Errorf("rlock rwmutex: %w", err)
		}
	}
}

// readUnhealthy answers a reader that got in while the lock was not
// consistent: ErrOwnerDead, holding its read lock, or ErrNotRecoverable,
// without it.
func (rw *RWMutex) readUnhealthy() error {
	if rw.w.health.Load() == rwOwnerDead {
		return fmt.Errorf("rlock rwmutex: %w", ErrOwnerDead)
	}
	rw.RUnlock()
	return fmt.Errorf("rlock rwmutex: %w", ErrNotRecoverable)
}

// TryRLock takes a read lock if no writer holds or waits for the lock and
// the lock is consistent (RLock reports an owner-dead lock; TryRLock never
// takes one).
func (rw *RWMutex) TryRLock() bool {
	if !rw.o.live() {
		return false
	}
	for {
		v := rw.r.Load()
		if v&rwWriter != 0 || v&rwCount == rwCount {
			return false
		}
		if rw.r.CompareAndSwap(v, v+1) {
			rw.countRead()
			if rw.w.health.Load() != rwConsistent {
				rw.RUnlock()
				return false
			}
			return true
		}
	}
}

// countRead records a read lock taken in this process's slot.
func (rw *RWMutex) countRead() {
	if s := rw.readerSlot(); s >= 0 {
		rw.slotCount(s).Add(1)
	}
}

// RUnlock releases one read lock. RUnlock without a read lock held panics.
func (rw *RWMutex) RUnlock() {
	rw.o.mustLive("RWMutex")
	if s := rw.readerSlot(); s >= 0 {
		// Only this process (alive: nobody reclaims its slot) writes
		// its count, so an Add that went below zero can be undone: it
		// held no read lock it counted, and the reader word below tells
		// whether it held one at all.
		if c := rw.slotCount(s); c.Add(^uint32(0)) == ^uint32(0) {
			c.Add(1)
		}
	}
	for {
		v := rw.r.Load()
		if v&rwCount == 0 {
			panic("forkless/sync: RUnlock of an RWMutex not read-locked")
		}
		n := v - 1
		if n&rwCount == 0 {
			n &^= rwWriteSleep
		}
		if rw.r.CompareAndSwap(v, n) {
			if n&rwCount == 0 && v&rwWriteSleep != 0 {
				futex.Wake(rw.r, -1)
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
	return int(rw.r.Load() & rwCount)
}
