package sync

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/shm"
)

// condWords is a Cond in shared memory.
//
// Waiters queue by ticket: Wait (holding the Mutex) takes ticket next and
// registers it in slot next%condSlots when that slot is free; Notify(n)
// releases the tickets from released up to the n-th oldest one a waiting
// slot holds (or all of them), in one CAS, found by scanning the slots. A waiter
// returns when its own ticket is released, so a notify of n returns at
// most n of the waiters that were waiting when it was called (more only
// when over condSlots wait at once: see release).
type condWords struct {
	// mutex is the Cond's Mutex, L (see mutexWords).
	mutex mutexWords
	// next is the next ticket to hand out. Written only by Wait, holding
	// the Mutex (load, register the slot, then store next+1, so a ticket
	// below next is registered, or never will be); read by Notify.
	next atomic.Uint32
	// released: tickets below it are released. Advanced by Notify, one
	// run of tickets per CAS, so each ticket is handled by one notifier; read by
	// waiters that hold no slot, which sleep on it (the futex word of
	// untracked waiters).
	released atomic.Uint32
	// waiters counts goroutines, of all processes, inside Wait (+1 before
	// the Mutex is released, -1 after waking): Waiting's answer.
	waiters atomic.Uint32
	_       uint32 // reserved, zero
	// slots hold the waiters' tickets; see condSlot.
	slots [condSlots]condSlot
}

// condSlots is how many waiters a Cond tracks by slot (so that a notify
// wakes exactly them, and a dead or leaving one's notify is passed on).
const condSlots = 32

// Slot states, also the values of the slot's futex word.
const (
	slotFree      = 0 // no waiter
	slotWaiting   = 1 // the ticket's waiter waits (set by it under the Mutex)
	slotReleased  = 2 // released by a notifier (CAS 1 -> 2), not yet left
	slotCancelled = 3 // its waiter left on its context (CAS 1 -> 3)
)

// condSlot is one tracked waiter.
type condSlot struct {
	// id is the waiting process (an owner word's identity), written by
	// the waiter when it registers; read by sleepers looking for a dead
	// waiter's release. Meaningful only while state is not free.
	id atomic.Uint64
	// ticket is the waiter's ticket (written with id, before state).
	ticket atomic.Uint32
	// state is the slot's state and the futex word its waiter sleeps on.
	// Free -> waiting by the registering waiter (holding the Mutex, after
	// id and ticket); waiting -> released by the notifier that owns the
	// ticket (then it wakes); waiting -> cancelled by the waiter leaving
	// on its context; released -> free by the waiter as it returns (or by
	// a waiter inheriting a dead one's release); cancelled -> free by the
	// notifier that reaches the ticket. The CASes decide each race: a
	// cancelled ticket is skipped, never counted.
	state atomic.Uint32
}

// CondSize and CondAlign are the bytes a Cond placed with CondAt takes and
// the alignment its offset needs.
const (
	CondSize  = int64(unsafe.Sizeof(condWords{}))
	CondAlign = int64(unsafe.Alignof(condWords{}))
)

var (
	_ [0]struct{} = [CondSize - 24 - 16*condSlots]struct{}{}
	_ [0]struct{} = [CondAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condWords{}.next) - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condWords{}.released) - 12]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condWords{}.waiters) - 16]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condWords{}.slots) - 24]struct{}{}
	_ [0]struct{} = [unsafe.Sizeof(condSlot{}) - 16]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condSlot{}.ticket) - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(condSlot{}.state) - 12]struct{}{}
)

func (w *condWords) validate() error {
	if err := w.mutex.validate(); err != nil {
		return err
	}
	if d := int32(w.next.Load() - w.released.Load()); d < 0 {
		return fmt.Errorf("cond released %d tickets ahead of those handed out: %w", -d, shm.ErrCorrupt)
	}
	for i := range w.slots {
		s := &w.slots[i]
		if st := s.state.Load(); st > slotCancelled {
			return fmt.Errorf("cond slot state %d: %w", st, shm.ErrCorrupt)
		}
		if err := validID("cond waiter", s.id.Load()); err != nil {
			return err
		}
	}
	return nil
}

// Cond is a condition variable shared by processes, with its own Mutex:
// Python's multiprocessing.Condition. Lock the Mutex (L), check the
// condition, and Wait while it does not hold; whoever changes it calls
// Signal, Notify or Broadcast.
//
// Waiters queue in order: Notify(n) returns at most n of the goroutines
// waiting when it is called, the longest waiting first, as Python's
// notify(n) does. Wait may still return without a matching Signal (when a
// waiter inherits a dead waiter's wake, or more than 32 wait at once):
// always wait in a loop on the condition, or use WaitFor.
//
// A waiter that dies after a notify chose it would swallow that wake: a
// live waiter takes it over at its next nap (within about 70 ms). A waiter
// that leaves on its context gives its place up, so no notify is spent on
// it; if a notify chose it as it left, Wait returns nil (it was woken).
// A process dying inside Wait leaves Waiting one too high. The relock of
// L at the end of Wait follows Mutex's robust-lock rules (docs/robust.md).
type Cond struct {
	_ noCopy
	o obj
	// L is the Cond's Mutex. Hold it around Wait and around changes to the
	// condition.
	L *Mutex
	w *condWords
}

// NewCond allocates a Cond, with its unlocked Mutex, in r.
func NewCond(r *shm.Region) (*Cond, error) {
	return newCond(allocObj[condWords](r, KindCond, "cond"))
}

// OpenCond binds a Cond made by NewCond from its handle.
func OpenCond(h shm.Handle) (*Cond, error) {
	return newCond(openObj[condWords](h, KindCond, "cond"))
}

// CondAt places a Cond at offset off of another package's block; see
// MutexAt for the rules.
func CondAt(b shm.Block, off int64) (*Cond, error) {
	return newCond(atObj[condWords](b, off, "cond"))
}

func newCond(o obj, w *condWords, err error) (*Cond, error) {
	if err != nil {
		return nil, err
	}
	l := mutexOf(o, unsafe.Offsetof(condWords{}.mutex))
	return &Cond{o: o, L: l, w: w}, nil
}

// Handle names the Cond for another process.
func (c *Cond) Handle() shm.Handle { return c.o.handle() }

// Wait unlocks c.L, waits for a Signal, Notify or Broadcast, and locks c.L
// again before returning. The caller must hold c.L (Wait panics if this
// process does not). It returns nil, or ErrOwnerDead when relocking took
// the Mutex from a dead holder (c.L is held in both cases: repair, then
// c.L.MarkConsistent), or ErrNotRecoverable (c.L is not held). Waiting
// releases c.L as Unlock does: waiting after ErrOwnerDead without
// MarkConsistent leaves c.L unrecoverable.
func (c *Cond) Wait() error { return c.WaitContext(context.Background()) }

// WaitContext is Wait that stops waiting when ctx ends; it still relocks
// c.L before it returns ctx's error, as Python's wait(timeout) does. A
// notify that chose this waiter as ctx ended makes it return nil.
//
// Lost wake-up argument: the waiter registers its ticket while it holds
// the Mutex, so a notifier that changed the condition under the Mutex
// afterwards finds the ticket below next. A tracked waiter sleeps on its
// slot's state expecting "waiting", and the notifier changes the state
// (CAS waiting -> released) before it wakes the slot: a sleep that begins
// after the CAS returns at once. An untracked waiter sleeps on released,
// expecting the value it read when it found its ticket not yet released;
// the notifier's CAS on released changes that word before its wake.
func (c *Cond) WaitContext(ctx context.Context) error {
	if !c.o.live() {
		return closedErr("wait on cond")
	}
	if !c.L.m.HeldByMe() {
		if c.L.held.get() > 0 {
			// Taken through this handle; its word written since by
			// another process: not this process's bug (see Mutex.Unlock).
			return fmt.Errorf("wait on cond: its Mutex's word names pid %d: %w", c.L.m.Holder().Pid(), ErrNotHeld)
		}
		panic("forkless/sync: Cond.Wait without holding its Mutex")
	}
	tk := c.enqueue()
	c.w.waiters.Add(1)
	c.L.Unlock()
	werr := c.await(ctx, tk)
	c.w.waiters.Add(^uint32(0))
	lerr := c.L.m.Lock()
	if lerr == nil || lerr == ErrOwnerDead {
		c.L.held.add(1) // c.L.Unlock above counted the release
	}
	if lerr != nil { // ErrOwnerDead, or ErrNotRecoverable
		return fmt.Errorf("wait on cond: relock: %w", lerr)
	}
	switch {
	case werr != nil:
		return fmt.Errorf("wait on cond: %w", werr)
	}
	return nil
}

// ticket is a waiter's place in the queue: its number, and its slot (nil
// when that slot was in use: an untracked waiter, which watches released).
type ticket struct {
	n uint32
	s *condSlot
}

// enqueue hands this waiter the next ticket and registers it in its slot
// if the slot is free. The caller holds the Mutex: nobody else registers,
// and a free slot stays free until this one fills it.
func (c *Cond) enqueue() ticket {
	n := c.w.next.Load()
	s := &c.w.slots[n%condSlots]
	if s.state.Load() == slotFree {
		s.id.Store(uint64(c.o.me))
		s.ticket.Store(n)
		s.state.Store(slotWaiting)
	} else {
		s = nil
	}
	c.w.next.Store(n + 1) // the ticket is now visible to notifiers
	return ticket{n: n, s: s}
}

// await waits until tk is released. It returns nil when released, or
// ctx's error when it gave its ticket up.
func (c *Cond) await(ctx context.Context, tk ticket) error {
	bo := newBackoff(ctx, c.o.spin)
	defer bo.stop()
	for {
		word, val, released := c.check(tk)
		if released {
			bo.won()
			return nil
		}
		if bo.spin() {
			continue
		}
		bo.watchPeers(word, func(watch func(owner.Word) bool) bool { return c.watchReleased(tk, watch) })
		switch err := bo.sleep(word, val); {
		case bo.napped(err):
			if c.inheritDead(tk) {
				return nil
			}
		case err != nil:
			return c.leave(tk, err)
		}
	}
}

// check reports whether tk is released (freeing its slot if so) and, if
// not, the futex word to sleep on and the value to expect there.
func (c *Cond) check(tk ticket) (word *atomic.Uint32, val uint32, released bool) {
	if tk.s == nil {
		r := c.w.released.Load()
		return &c.w.released, r, int32(r-tk.n) > 0
	}
	if st := tk.s.state.Load(); st == slotWaiting {
		return &tk.s.state, st, false
	}
	tk.s.state.Store(slotFree)
	return nil, 0, true
}

// leave gives tk up as its waiter leaves on its context (err). A tracked
// ticket is marked cancelled, so the notifier that reaches it skips it and
// wakes the next waiter instead; if a notifier released it first, the
// waiter was woken and leave returns nil. An untracked ticket cannot be
// marked: a notifier reaching it releases it without counting it.
func (c *Cond) leave(tk ticket, err error) error {
	if tk.s == nil {
		if int32(c.w.released.Load()-tk.n) > 0 {
			return nil
		}
		return err
	}
	if tk.s.state.CompareAndSwap(slotWaiting, slotCancelled) {
		return err
	}
	tk.s.state.Store(slotFree)
	return nil
}

// inheritDead is called by a waiter after a nap: it looks for a release a
// dead waiter was chosen for (its slot released, its process gone) and
// takes it over, returning true. So a waiter's death swallows a notify
// only until a live waiter's next nap. This waiter's own ticket is given
// up (cancelled: the notifier that reaches it wakes another); if it was
// released meanwhile, this waiter holds two releases and passes one on.
// Alive reads /proc, but only for slots released and not yet left, which
// a healthy Cond has only for the moment a woken waiter takes to run.
func (c *Cond) inheritDead(tk ticket) bool {
	for i := range c.w.slots {
		s := &c.w.slots[i]
		if s == tk.s || s.state.Load() != slotReleased {
			continue
		}
		if owner.Alive(owner.Word(s.id.Load())) || !s.state.CompareAndSwap(slotReleased, slotFree) {
			continue
		}
		if tk.s != nil && !tk.s.state.CompareAndSwap(slotWaiting, slotCancelled) {
			tk.s.state.Store(slotFree)
			c.Notify(1)
		}
		return true
	}
	return false
}

// watchReleased watches the processes of the other slots released and
// not yet left (the releases inheritDead would take over if they died).
func (c *Cond) watchReleased(tk ticket, watch func(owner.Word) bool) bool {
	for i := range c.w.slots {
		s := &c.w.slots[i]
		if s != tk.s && s.state.Load() == slotReleased && !watch(owner.Word(s.id.Load())) {
			return false
		}
	}
	return true
}

// WaitFor waits until cond() returns true, as Python's wait_for: cond is
// called with c.L held, first before any waiting. It returns ctx's error if
// ctx ends first (c.L is held then too). It returns ErrOwnerDead at once
// when a relock took c.L from a dead holder: c.L is held, and the caller
// must repair and MarkConsistent before anything waits or unlocks again.
func (c *Cond) WaitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		if err := c.WaitContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Signal wakes one waiter, if there is one. It makes no system call when
// nobody waits.
func (c *Cond) Signal() { c.Notify(1) }

// Broadcast wakes every waiter.
func (c *Cond) Broadcast() { c.Notify(-1) }

// Notify wakes up to n of the waiters waiting now, the longest waiting
// first (all of them if n < 0), as Python's notify(n). It makes no system
// call when nobody waits.
//
// It claims a run of tickets [released, end) with one CAS on released (so
// concurrent notifiers never handle one ticket twice), where end is just
// past the n-th oldest tracked waiter's ticket (or next, if fewer wait),
// found by scanning the slots: a tracked waiter's ticket in the run is
// released and counted, a cancelled one skipped (its slot freed), an
// untracked one released without being counted (its waiter may have
// left: counting it could spend the notify on nobody). Untracked waiters
// sleep on released and are woken together. Each round costs one scan of
// the slots, however far apart the tickets are (a scribbled next cannot
// make it walk 2^31 tickets), and the rounds are bounded: only waiters
// cancelling during the round make another one necessary.
func (c *Cond) Notify(n int) {
	c.o.mustLive("Cond")
	untracked := false
	for round := 0; n != 0 && round < notifyRounds; round++ {
		r := c.w.released.Load()
		span := c.w.next.Load() - r
		if int32(span) <= 0 {
			break // nobody left waiting
		}
		if n > 0 {
			if k, ok := c.nthWaiting(r, span, n); ok {
				span = k + 1
			}
		}
		if !c.w.released.CompareAndSwap(r, r+span) {
			continue
		}
		woke, tracked := c.releaseRun(r, span)
		if n > 0 {
			n = max(n-int(woke), 0)
		}
		if tracked < span {
			untracked = true
		}
	}
	if untracked {
		futex.Wake(&c.w.released, -1)
	}
}

// notifyRounds bounds Notify's rounds. A round ends short of n only when
// waiters it counted on cancelled meanwhile (or the words were
// scribbled); a legitimate Notify needs a handful.
const notifyRounds = 1 << 10

// nthWaiting returns the distance from r of the n-th oldest waiting
// tracked ticket in [r, r+span), or false when fewer than n wait there.
func (c *Cond) nthWaiting(r, span uint32, n int) (uint32, bool) {
	var ks [condSlots]uint32
	m := 0
	for i := range c.w.slots {
		s := &c.w.slots[i]
		if s.state.Load() != slotWaiting {
			continue
		}
		if k := s.ticket.Load() - r; k < span {
			ks[m] = k
			m++
		}
	}
	if m < n {
		return 0, false
	}
	slices.Sort(ks[:m])
	return ks[n-1], true
}

// releaseRun handles the tracked tickets in [r, r+span), which this
// notifier owns: it returns how many waiters it woke and how many tickets
// had a slot.
func (c *Cond) releaseRun(r, span uint32) (woke, tracked uint32) {
	for i := range c.w.slots {
		s := &c.w.slots[i]
		t := s.ticket.Load()
		if t-r >= span {
			continue
		}
		switch c.release(s, t) {
		case slotReleased:
			woke++
			tracked++
		case slotCancelled:
			tracked++
		}
	}
	return woke, tracked
}

// release handles ticket t of slot s, which this notifier owns. It returns
// slotReleased when it released (and woke) the ticket's tracked waiter,
// slotCancelled when that waiter had left (its slot is freed), slotFree
// when the slot does not hold the ticket. Only the waiter changes a
// waiting slot (to cancelled), so two turns suffice; more are scribbles.
func (c *Cond) release(s *condSlot, t uint32) uint32 {
	for range 4 {
		if s.ticket.Load() != t {
			return slotFree
		}
		switch s.state.Load() {
		case slotWaiting:
			if s.state.CompareAndSwap(slotWaiting, slotReleased) {
				futex.Wake(&s.state, 1)
				return slotReleased
			}
		case slotCancelled:
			if s.state.CompareAndSwap(slotCancelled, slotFree) {
				return slotCancelled
			}
		default:
			return slotFree
		}
	}
	return slotFree
}

// Waiting returns how many goroutines, in all processes, are inside Wait.
func (c *Cond) Waiting() int {
	if !c.o.live() {
		return 0
	}
	return int(c.w.waiters.Load())
}
