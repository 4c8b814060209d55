package sync

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/shm"
)

const (
	// MaxBarrierMembers is how many processes a barrier tracks to find
	// dead parties; processes beyond it use the barrier untracked.
	MaxBarrierMembers = 32
	// MaxParties is the largest number of parties.
	MaxParties = 1<<31 - 1
)

// Generation word bits.
const (
	brBroken   = 1 << 0
	brSleepers = 1 << 1
	brGenShift = 2
)

// barrierWords is a Barrier in shared memory.
type barrierWords struct {
	// mutex is the internal Mutex that orders arrivals, Reset and Abort
	// (see mutexWords); the words below marked "under the Mutex" are
	// handed from one holder to the next by its owner word's CAS.
	mutex mutexWords
	// gen is the generation word, and the futex word waiters sleep on:
	//   bit     0 brBroken (set by Abort, a failed action, a timeout or a
	//             dead party; cleared by Reset)
	//   bit     1 brSleepers: a waiter sleeps or is about to (set by it
	//             with CAS; cleared by whoever ends the round, who then
	//             wakes everyone)
	//   bits 2-31 generation number, +1 when a round ends
	// Written under the Mutex (the sleepers bit: by CAS, anywhere). A
	// waiter that sees the next generation acquires what the last
	// arrival (and its action) did before the Swap that ended the round.
	gen atomic.Uint32
	// count is the arrivals in this generation (under the Mutex).
	count atomic.Uint32
	// parties is written once: by NewBarrier before the handle is
	// published, or by BarrierAt's first placer with CAS 0 -> parties.
	parties atomic.Uint32
	// timeout is the default timeout of a Wait, in milliseconds (0:
	// none): written by SetTimeout in any process, read by every Wait.
	// Any value is harmless (a Wait that times out early or late).
	timeout atomic.Uint32
	// resets has bit g%64 set when generation g ended by Reset rather
	// than by its last arrival, so its waiters learn it was broken (under
	// the Mutex; read by waiters after they saw gen move on).
	resets atomic.Uint64
	// ids are the member processes (owner-word identities) that opened
	// the barrier; each claims a slot by CAS 0 -> id, or by CAS from a
	// dead member's id.
	ids [MaxBarrierMembers]atomic.Uint64
	// seen is, for member slot i, the generation the process is expected
	// in next: the generation it opened the barrier in, or the one after
	// its latest arrival (written by it, under the Mutex; read by waiters
	// looking for a dead party).
	seen [MaxBarrierMembers]atomic.Uint32
}

// BarrierSize and BarrierAlign are the bytes a Barrier placed with
// BarrierAt takes and the alignment its offset needs.
const (
	BarrierSize  = int64(unsafe.Sizeof(barrierWords{}))
	BarrierAlign = int64(unsafe.Alignof(barrierWords{}))
)

var (
	_ [0]struct{} = [BarrierSize - 416]struct{}{}
	_ [0]struct{} = [BarrierAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(barrierWords{}.gen) - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(barrierWords{}.count) - 12]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(barrierWords{}.parties) - 16]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(barrierWords{}.timeout) - 20]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(barrierWords{}.resets) - 24]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(barrierWords{}.ids) - 32]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(barrierWords{}.seen) - 288]struct{}{}
)

func (w *barrierWords) validate() error {
	if err := w.mutex.validate(); err != nil {
		return err
	}
	if p := w.parties.Load(); p > MaxParties {
		return fmt.Errorf("barrier of %d parties: %w", p, shm.ErrCorrupt)
	}
	for i := range w.ids {
		if err := validID("barrier member", w.ids[i].Load()); err != nil {
			return err
		}
	}
	return nil
}

// Barrier makes a fixed number of parties wait for each other: Python's
// multiprocessing.Barrier. Each Wait blocks until parties Waits have been
// made (in any processes), then all return, each with a distinct arrival
// index from 0 to parties-1, and the barrier is ready for the next round
// (generation).
//
// A party that dies breaks the barrier instead of hanging it: a waiter that
// has slept a while looks for a member process that is dead and was
// expected in this generation (it opened the barrier, or passed the last
// generation, and has not arrived), and aborts the barrier with ErrBroken.
// So a process that opened the barrier and exits while others wait for a
// generation it was expected in breaks it too: processes that are not
// parties should not open it, or should stay alive. A process dying inside
// the internal Mutex also breaks the barrier.
type Barrier struct {
	_       noCopy
	o       obj
	m       owner.RobustLock
	w       *barrierWords
	gen     *atomic.Uint32
	count   *atomic.Uint32
	parties uint32
	resets  *atomic.Uint64
	slot    int // this process's member slot, -1 if none
	action  func() error
}

// NewBarrier allocates a Barrier for parties parties (at least 1) in r.
func NewBarrier(r *shm.Region, parties int) (*Barrier, error) {
	if parties < 1 || parties > MaxParties {
		return nil, fmt.Errorf("new barrier of %d parties: %w", parties, ErrInvalid)
	}
	o, w, err := allocObj[barrierWords](r, KindBarrier, "barrier")
	if err != nil {
		return nil, err
	}
	w.parties.Store(uint32(parties))
	return newBarrier(o, w), nil
}

// OpenBarrier binds a Barrier made by NewBarrier from its handle.
func OpenBarrier(h shm.Handle) (*Barrier, error) {
	o, w, err := openObj[barrierWords](h, KindBarrier, "barrier")
	if err != nil {
		return nil, err
	}
	if w.parties.Load() == 0 {
		return nil, fmt.Errorf("open barrier: 0 parties: %w", shm.ErrCorrupt)
	}
	return newBarrier(o, w), nil
}

// BarrierAt places a Barrier for parties parties at offset off of another
// package's block. The bytes must be zero at first use; the first caller
// sets the number of parties, and later callers must pass the same. See
// MutexAt for the other rules.
func BarrierAt(b shm.Block, off int64, parties int) (*Barrier, error) {
	if parties < 1 || parties > MaxParties {
		return nil, fmt.Errorf("barrier at %d of %d parties: %w", off, parties, ErrInvalid)
	}
	o, w, err := atObj[barrierWords](b, off, "barrier")
	if err != nil {
		return nil, err
	}
	p := &w.parties
	if !p.CompareAndSwap(0, uint32(parties)) && p.Load() != uint32(parties) {
		return nil, fmt.Errorf("barrier at %d: placed with %d parties, not %d: %w", off, p.Load(), parties, ErrInvalid)
	}
	return newBarrier(o, w), nil
}

func newBarrier(o obj, w *barrierWords) *Barrier {
	b := &Barrier{
		o:       o,
		m:       mutexOf(o, unsafe.Offsetof(barrierWords{}.mutex)).m,
		w:       w,
		gen:     &w.gen,
		count:   &w.count,
		parties: w.parties.Load(),
		resets:  &w.resets,
		slot:    -1,
	}
	b.join()
	return b
}

func (b *Barrier) id(i int) *atomic.Uint64   { return &b.w.ids[i] }
func (b *Barrier) seen(i int) *atomic.Uint32 { return &b.w.seen[i] }

// join claims a member slot for this process: its own if it has one, else
// a free one, else one of a dead process.
func (b *Barrier) join() {
	cur := b.gen.Load() >> brGenShift
	for i := range MaxBarrierMembers {
		if b.id(i).Load() == uint64(b.o.me) {
			b.slot = i
			return
		}
	}
	for pass := 0; pass < 2; pass++ {
		for i := range MaxBarrierMembers {
			v := b.id(i).Load()
			if (pass == 0 && v != 0) || (pass == 1 && (v == 0 || owner.Alive(owner.Word(v)))) {
				continue
			}
			// Mark first: a scanner that sees the id then sees this
			// process expected now, which is true.
			if b.id(i).CompareAndSwap(v, uint64(b.o.me)) {
				b.seen(i).Store(cur)
				b.slot = i
				return
			}
		}
	}
}

// SetAction sets a function that the last party to arrive runs, in its own
// process, before the others are released (Python's action). Only this
// process's Barrier value has it: set it in every process whose arrival may
// be the last. If it returns an error or panics, the barrier breaks: the
// others get ErrBroken, the last party the error (or the panic). Set it
// before this Barrier value's first Wait.
func (b *Barrier) SetAction(f func() error) { b.action = f }

// Handle names the Barrier for another process.
func (b *Barrier) Handle() shm.Handle { return b.o.handle() }

// Parties returns the number of parties.
func (b *Barrier) Parties() int { return int(b.parties) }

// Waiting returns how many parties wait in the current generation.
func (b *Barrier) Waiting() int {
	if !b.o.live() || b.gen.Load()&brBroken != 0 {
		return 0
	}
	return int(b.count.Load())
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() bool { return b.o.live() && b.gen.Load()&brBroken != 0 }

// SetTimeout sets the barrier's default timeout, Python's
// Barrier(parties, timeout=d): a Wait (or a WaitContext whose ctx has no
// deadline) that has waited d gives up and breaks the barrier, and every
// party gets ErrBroken. The barrier keeps it in shared memory, so it holds
// for every process (in milliseconds, rounded up; 0 or less: no default
// timeout, the default of a new barrier).
func (b *Barrier) SetTimeout(d time.Duration) {
	b.o.mustLive("Barrier")
	ms := uint64(0)
	if d > 0 {
		ms = min(uint64((d+time.Millisecond-1)/time.Millisecond), math.MaxUint32)
	}
	b.w.timeout.Store(uint32(ms))
}

// Timeout returns the default timeout set by SetTimeout (0: none).
func (b *Barrier) Timeout() time.Duration {
	if !b.o.live() {
		return 0
	}
	return time.Duration(b.w.timeout.Load()) * time.Millisecond
}

// Wait arrives at the barrier and waits for the other parties, at most the
// default timeout (SetTimeout). It returns the arrival index (0 for the
// first, parties-1 for the last), or ErrBroken.
func (b *Barrier) Wait() (int, error) { return b.WaitContext(context.Background()) }

// WaitContext is Wait that gives up when ctx ends; a ctx with a deadline
// replaces the default timeout, as Python's wait(timeout) does. As in
// Python, giving up breaks the barrier for everyone: the error wraps both
// ErrBroken and ctx's error (context.DeadlineExceeded on a timeout).
func (b *Barrier) WaitContext(ctx context.Context) (int, error) {
	if !b.o.live() {
		return -1, closedErr("wait at barrier")
	}
	if _, ok := ctx.Deadline(); !ok {
		if t := b.w.timeout.Load(); t > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(t)*time.Millisecond)
			defer cancel()
		}
	}
	if err := b.lock(); err != nil {
		return -1, err
	}
	g := b.gen.Load()
	if g&brBroken != 0 {
		b.m.Unlock()
		return -1, fmt.Errorf("wait at barrier: %w", ErrBroken)
	}
	c := g >> brGenShift
	idx := b.count.Load()
	b.count.Store(idx + 1)
	if b.slot >= 0 {
		b.seen(b.slot).Store(c + 1)
	}
	if idx+1 == b.parties {
		return int(idx), b.release(c)
	}
	b.m.Unlock()

	// Lost wake-up argument: a waiter sets the sleepers bit with a CAS from
	// a value v of its generation and sleeps expecting v|sleepers; whoever
	// ends the generation swaps the whole word and wakes everyone if the
	// value it replaced had the bit. Either the swap comes first (the CAS
	// fails and the waiter sees the new word) or the CAS does (the swap sees
	// the bit; a sleep that starts after the swap returns at once).
	bo := newBackoff(ctx, b.o.spin)
	defer bo.stop()
	for {
		v := b.gen.Load()
		if v>>brGenShift != c {
			if b.resets.Load()&(1<<(c%64)) != 0 {
				return -1, fmt.Errorf("wait at barrier: reset: %w", ErrBroken)
			}
			bo.won()
			return int(idx), nil
		}
		if v&brBroken != 0 {
			return -1, fmt.Errorf("wait at barrier: %w", ErrBroken)
		}
		if bo.spin() {
			continue
		}
		if v&brSleepers == 0 {
			if !b.gen.CompareAndSwap(v, v|brSleepers) {
				continue
			}
			v |= brSleepers
		}
		bo.watchPeers(b.gen, func(watch func(owner.Word) bool) bool { return b.watchParties(c, watch) })
		switch err := bo.sleep(b.gen, v); {
		case bo.napped(err):
			if pid := b.deadParty(c); pid != 0 {
				b.breakNow(c)
				if v := b.gen.Load(); v>>brGenShift == c && v&brBroken != 0 {
					return -1, fmt.Errorf("wait at barrier: party pid %d died: %w", pid, ErrBroken)
				}
				continue // released (or reset) before the break: the top of the loop says which
			}
		case err != nil:
			b.breakNow(c)
			return -1, fmt.Errorf("wait at barrier: %w: %w", ErrBroken, err)
		}
	}
}

// lock takes the internal Mutex; a holder that died inside it leaves the
// barrier broken. Under the robust-lock model (docs/robust.md) the broken
// state is the repair: the barrier's words are consistent as "broken"
// (Reset starts a fresh generation), so the Mutex is marked consistent.
func (b *Barrier) lock() error {
	switch err := b.m.Lock(); err {
	case nil:
		return nil
	case ErrOwnerDead:
		b.setBroken()
		b.m.MarkConsistent()
		b.m.Unlock()
		return fmt.Errorf("wait at barrier: a process died inside it: %w", ErrBroken)
	default: // ErrNotRecoverable: only a scribbled word
		return fmt.Errorf("wait at barrier: %w: %w", ErrBroken, err)
	}
}

// release ends generation c as its last arrival: runs the action, then
// starts generation c+1 and wakes the waiters. Called with the Mutex held;
// returns with it released.
func (b *Barrier) release(c uint32) (err error) {
	if b.action != nil {
		panicked := true
		defer func() {
			if panicked {
				b.setBroken()
				b.m.Unlock()
			}
		}()
		aerr := b.action()
		panicked = false
		if aerr != nil {
			b.setBroken()
			b.m.Unlock()
			return fmt.Errorf("barrier action: %w: %w", ErrBroken, aerr)
		}
	}
	b.count.Store(0)
	b.resets.And(^uint64(1 << (c % 64)))
	old := b.gen.Swap((c + 1) << brGenShift)
	b.m.Unlock()
	if old&brSleepers != 0 {
		futex.Wake(b.gen, -1)
	}
	return nil
}

// setBroken marks the barrier broken and wakes everyone. The Mutex is held.
func (b *Barrier) setBroken() {
	if old := b.gen.Or(brBroken); old&brSleepers != 0 {
		futex.Wake(b.gen, -1)
	}
}

// breakNow breaks generation c, if it is still the current one.
func (b *Barrier) breakNow(c uint32) {
	if b.lock() != nil {
		return // broken already
	}
	if b.gen.Load()>>brGenShift == c {
		b.setBroken()
	}
	b.m.Unlock()
}

// deadParty returns the pid of a dead member expected in generation c, or
// of a dead holder of the internal Mutex, or 0.
func (b *Barrier) deadParty(c uint32) int {
	if v := b.m.Holder(); v != 0 && !owner.Alive(v) {
		return v.Pid()
	}
	for i := range MaxBarrierMembers {
		v := b.id(i).Load()
		if v != 0 && b.seen(i).Load() == c && !owner.Alive(owner.Word(v)) {
			return owner.Word(v).Pid()
		}
	}
	return 0
}

// watchParties watches the processes whose death would break generation
// c: the internal Mutex's holder and the members expected in c.
func (b *Barrier) watchParties(c uint32, watch func(owner.Word) bool) bool {
	if !watch(b.m.Holder()) {
		return false
	}
	for i := range MaxBarrierMembers {
		if v := b.id(i).Load(); v != 0 && b.seen(i).Load() == c && !watch(owner.Word(v)) {
			return false
		}
	}
	return true
}

// Abort breaks the barrier: parties waiting now and arriving later get
// ErrBroken until Reset.
func (b *Barrier) Abort() {
	b.o.mustLive("Barrier")
	b.lock()
	b.setBroken()
	b.m.Unlock()
}

// Reset returns the barrier to its empty state, unbroken. Parties waiting
// now get ErrBroken. Members found dead are forgotten.
func (b *Barrier) Reset() {
	b.o.mustLive("Barrier")
	b.lock()
	c := b.gen.Load() >> brGenShift
	b.resets.Or(1 << (c % 64))
	b.count.Store(0)
	for i := range MaxBarrierMembers {
		if v := b.id(i).Load(); v != 0 && !owner.Alive(owner.Word(v)) {
			b.id(i).CompareAndSwap(v, 0)
		} else if v != 0 && b.seen(i).Load() == c {
			b.seen(i).Store(c + 1)
		}
	}
	old := b.gen.Swap((c + 1) << brGenShift)
	b.m.Unlock()
	if old&brSleepers != 0 {
		futex.Wake(b.gen, -1)
	}
}
