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

// rwSlots is how many reading processes an RWMutex tracks, each counting
// its read locks in its own slot, so that a writer can take back the read
// locks of a reader that died. Readers of further processes count in the
// reader word, untracked.
const rwSlots = 16

// Reader word bits.
const (
	rwCount      = 1<<28 - 1 // untracked readers holding the lock
	rwWriter     = 1 << 28   // a writer holds the lock or waits for readers to leave
	rwReadSleep  = 1 << 29   // some reader sleeps until rwWriter clears
	rwWriteSleep = 1 << 30   // the writer sleeps until every reader left
)

// rwMutexWords is an RWMutex in shared memory.
type rwMutexWords struct {
	// writer is the writers' lock (see mutexWords): writers take it first,
	// so writers queue there and a dead writer is found like a dead Mutex
	// holder.
	writer mutexWords
	// readers is the reader word, also the futex word readers and the
	// writer sleep on:
	//   bits 0-27 read locks held by untracked readers (processes beyond
	//             the slots; RLock CAS +1, RUnlock CAS -1)
	//   bit    28 rwWriter: set by the writer after it took writer, cleared
	//             by its Unlock (or by whoever recovers from a dead writer)
	//   bit    29 rwReadSleep: a reader sleeps until bit 28 clears (set by
	//             that reader; cleared by the writer's Unlock, which wakes)
	//   bit    30 rwWriteSleep: the writer sleeps until the count and
	//             every slot's count are 0 (set by the writer; cleared by
	//             its Unlock, or by an RUnlock that drops the word's count
	//             or its slot's count to 0, which then wakes)
	// Readers and the writer meet as in Dekker's algorithm, all atomics
	// sequentially consistent: a reader adds to its count, then loads
	// this word; the writer sets rwWriter, then loads the counts. One of
	// them sees the other, and a reader that sees rwWriter takes its +1
	// back and waits. The writer's load of a count at 0 acquires what
	// that reader's RUnlock released, and a reader's load of this word
	// without rwWriter what the writer's Unlock released.
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
	// slots count the read locks of one reading process each, so that a
	// writer can take back a dead reader's read locks.
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
	// count is the read locks this process holds, its only record of
	// them: +1 as the first step of RLock (taken back if a writer is
	// in), -1 by RUnlock (written by the process; swapped to 0 by a
	// reclaimer once the process is dead). A reader killed at any
	// instruction has either not counted its read lock or counted it
	// here, where a writer finds it.
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
// reader that dies holding read locks, at whatever instruction, is found
// by a writer that has slept waiting for readers: each reading process
// counts its read locks in a slot of its own (one atomic add, the only
// record), and the writer zeroes a dead process's slot and gets the lock
// normally (readers change nothing, so there is nothing to repair).
// Readers of a 17th process at once count in a shared word, untracked: a
// dead one's read locks are not recovered.
type RWMutex struct {
	_    noCopy
	o    obj
	m    owner.Lock
	w    *rwMutexWords
	r    *atomic.Uint32
	slot atomic.Int32 // this process's reader slot; -1 unknown, -2 none
	// wheld counts the write locks taken through this handle and not yet
	// released (heldCount: written only by the writer holding the lock).
	// An Unlock that the shared words refuse while wheld > 0 met words
	// another process wrote after this one took the lock: hostile bytes,
	// not a bug of this process's, so it does not panic (see Unlock; for
	// readers, RUnlock).
	wheld heldCount
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
// with a CAS from a value v, then checks the counts again, then sleeps
// expecting v|bit30. A reader's RUnlock that drops the word's count, or
// its slot's count, to 0 then loads the word, and if bit 30 is set clears
// it (changing the word) and wakes every sleeper. If that RUnlock came
// before the writer's second check, the check sees the count at 0; if
// after, its load sees bit 30 (all atomics are sequentially consistent),
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
	defer bo.stop()
	for {
		v := rw.r.Load()
		if rw.noReaders(v) {
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
			if rw.noReaders(v) {
				continue
			}
		}
		bo.watchPeers(rw.r, rw.watchReaders)
		switch err := bo.sleep(rw.r, v); {
		case bo.napped(err):
			rw.reclaimDead() // a reader may have died holding its lock
		case err != nil:
			rw.writerLeave()
			return fmt.Errorf("lock rwmutex: %w", err)
		}
	}
	rw.wheld.add(1)
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
	if rw.writeHeld("MarkConsistent") {
		rw.w.health.CompareAndSwap(rwOwnerDead, rwConsistent)
	}
}

// writeHeld reports whether the shared words say that this process holds
// the write lock. When they do not, it panics if this process did not take
// it through this handle either (a bug of the caller's, as sync.RWMutex
// would); if it did, another process wrote the words since, and it
// reports false: the caller leaves the words as they are.
func (rw *RWMutex) writeHeld(what string) bool {
	rw.o.mustLive("RWMutex")
	if rw.m.HeldByMe() && rw.r.Load()&rwWriter != 0 {
		return true
	}
	if rw.wheld.get() > 0 {
		return false
	}
	panic("forkless/sync: " + what + " of an RWMutex not write-locked by this process")
}

// TryLock takes the lock for writing if it is free of readers and writers
// and consistent (Lock reports an owner-dead lock; TryLock never takes one).
func (rw *RWMutex) TryLock() bool {
	if !rw.o.live() || !rw.m.TryLock() {
		return false
	}
	if rw.w.health.Load() == rwConsistent && rw.r.CompareAndSwap(0, rwWriter) {
		if rw.noReaders(rwWriter) {
			rw.wheld.add(1)
			return true
		}
		rw.writerLeave() // a reader counted in its slot is inside
		return false
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
// process does not hold for writing panics; but when this process took it
// through this handle and another process has written its words since,
// Unlock leaves them as they are and returns (as Mutex.Unlock).
func (rw *RWMutex) Unlock() {
	held := rw.writeHeld("unlock")
	rw.wheld.add(-1) // before the release: the next writer may be another goroutine
	if !held {
		return
	}
	rw.w.health.CompareAndSwap(rwOwnerDead, rwNotRecoverable)
	rw.writerLeave()
}
