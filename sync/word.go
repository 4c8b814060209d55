package sync

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/shm"
)

// Kinds of the objects of this package (shm reserves 0x0100-0x01ff for it).
const (
	KindMutex            shm.Kind = 0x0101
	KindRWMutex          shm.Kind = 0x0102
	KindRLock            shm.Kind = 0x0103
	KindSemaphore        shm.Kind = 0x0104
	KindBoundedSemaphore shm.Kind = 0x0105
	KindCond             shm.Kind = 0x0106
	KindEvent            shm.Kind = 0x0107
	KindBarrier          shm.Kind = 0x0108
	KindWaitGroup        shm.Kind = 0x0109
)

// noCopy lets go vet's copylocks check flag a copied primitive.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// ---------------------------------------------------------------------------
// Owner words.
//
// Every lock of this package is one 64-bit owner word:
//
//	bits  0-29  pid of the holder (0: unlocked; Linux pids stay below 2^22)
//	bit     30  reserved, zero
//	bit     31  waiters: some process sleeps, or is about to sleep, on the word
//	bits 32-63  low 32 bits of the holder's start time (clock ticks since boot)
//
// The low half (bits 0-31) is also the futex word the waiters sleep on.
// Taking the lock writes the holder's whole identity with one
// compare-and-swap, so the word never names a holder only half way: a waiter
// that reads it and finds that process dead (its pid gone, or now a process
// with another start time) may take the lock from it by a compare-and-swap
// from exactly that value, and only one such waiter wins. A new process that
// reuses the pid has another start time (the low 32 bits of it repeat only
// every 2^32 ticks, 497 days at 100 Hz), so pid reuse cannot pass for the
// dead holder.
//
// Writers: the process taking the lock (CAS 0 -> me), a waiter announcing
// itself (CAS v -> v|waiters), a waiter taking it from a dead holder (CAS v
// -> me|waiters), the holder releasing it (CAS me -> 0, or Swap 0 when the
// waiters bit is set). Readers: all of those.
// ---------------------------------------------------------------------------

const (
	pidMask    = 1<<30 - 1
	waitersBit = 1 << 31
)

// selfWord is this process's identity as an owner word holds it.
var selfWord = func() uint64 {
	id := proc.Self()
	if id.Pid <= 0 || id.Pid > pidMask {
		panic(fmt.Sprintf("forkless/sync: pid %d does not fit an owner word", id.Pid))
	}
	return uint64(uint32(id.Start))<<32 | uint64(id.Pid)
}()

// lowHalf is the byte offset of the low 32 bits of a 64-bit word: the futex
// word inside an owner word.
var lowHalf = func() uintptr {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return 0
	}
	return 4
}()

func futexOf(w *atomic.Uint64) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(w), lowHalf))
}

// ownerPid returns the pid an owner word names.
func ownerPid(v uint64) int { return int(v & pidMask) }

// ownerAlive reports whether the process an owner word names still runs.
// It reads /proc, so it is called only by waiters that have slept a while.
// When it cannot tell, it answers true: a live holder's lock is never taken.
func ownerAlive(v uint64) bool {
	if v&^waitersBit == selfWord {
		return true
	}
	pid := ownerPid(v)
	if pid == 0 {
		return true // not a holder at all
	}
	st, err := proc.StartTime(pid)
	if err != nil {
		return !errors.Is(err, proc.ErrNoProcess)
	}
	if uint32(st) != uint32(v>>32) {
		return false // the pid was reused by a later process
	}
	return proc.Alive(proc.ID{Pid: int32(pid), Start: st}) // zombies are dead
}

// owner is a lock's owner word and its futex half.
type owner struct {
	w  *atomic.Uint64
	f  *atomic.Uint32
	sb *spinBudget
}

func newOwner(w *atomic.Uint64, sb *spinBudget) owner { return owner{w, futexOf(w), sb} }

// heldByMe reports whether this process holds the lock.
func (o owner) heldByMe() bool { return o.w.Load()&^waitersBit == selfWord }

func (o owner) tryLock() bool { return o.w.CompareAndSwap(0, selfWord) }

// lock takes the lock, waiting as long as ctx allows. It returns nil, or
// ErrOwnerDead when it took the lock from a dead holder, or ctx's error
// (without the lock).
//
// Lost wake-up argument. A waiter announces itself with CAS v -> v|waiters
// and then sleeps with FUTEX_WAIT on the low half, expecting low32(v|waiters).
// The holder releases with CAS me -> 0 (no waiters bit: no system call) or
// Swap 0 followed by FUTEX_WAKE when the old value had the bit.
//  1. If the release comes before the waiter's CAS, the CAS fails (the word is
//     0 or names someone else) and the waiter loops and retries.
//  2. If the waiter's CAS comes first, the release sees the bit (its CAS
//     me -> 0 fails and the Swap returns it) and wakes.
//  3. The kernel compares the word with the expected value and queues the
//     waiter atomically with respect to FUTEX_WAKE: a release between the
//     CAS and the sleep changes the word, so the sleep returns EAGAIN at once.
//
// A woken waiter that takes the lock sets the waiters bit itself (CAS 0 ->
// me|waiters), since other sleepers may remain; at worst its release makes
// one wake that finds nobody.
func (o owner) lock(ctx context.Context) error {
	if o.tryLock() {
		return nil
	}
	return o.lockSlow(ctx)
}

func (o owner) lockSlow(ctx context.Context) error {
	me := selfWord
	want := me // becomes me|waiters once this waiter has announced itself
	bo := newBackoff(ctx, o.sb)
	for {
		v := o.w.Load()
		if v == 0 {
			if o.w.CompareAndSwap(0, want) {
				bo.won()
				return nil
			}
			continue
		}
		if bo.spin() {
			continue
		}
		if v&waitersBit == 0 {
			if !o.w.CompareAndSwap(v, v|waitersBit) {
				continue
			}
			v |= waitersBit
		}
		want = me | waitersBit
		switch err := bo.sleep(o.f, uint32(v)); {
		case err == nil:
		case err == errNap:
			// Slept a while on the same holder: is it still alive?
			if !ownerAlive(v) && o.w.CompareAndSwap(v, me|waitersBit) {
				return ErrOwnerDead
			}
		default:
			o.passOn()
			return err
		}
	}
}

// passOn is called by an announced waiter that leaves without the lock
// (its context ended). A release may have woken this waiter rather than
// another sleeper; so that the other is not stranded, either wake one now
// (the lock is free) or make sure the waiters bit stays set (the holder's
// release will then wake one).
func (o owner) passOn() {
	for {
		v := o.w.Load()
		if v == 0 {
			futex.Wake(o.f, 1)
			return
		}
		if v&waitersBit != 0 || o.w.CompareAndSwap(v, v|waitersBit) {
			return
		}
	}
}

// unlock releases the lock if this process holds it and reports whether it
// did. A release makes a system call only when the waiters bit is set.
func (o owner) unlock() bool {
	if o.w.CompareAndSwap(selfWord, 0) {
		return true
	}
	v := o.w.Load()
	if v&^waitersBit != selfWord {
		return false
	}
	// Held by this process with the waiters bit set. Nobody else can
	// change the owner now (only a waiter that found this process dead
	// would), so Swap is safe; waiters may only have set the bit.
	if old := o.w.Swap(0); old&waitersBit != 0 {
		futex.Wake(o.f, 1)
	}
	return true
}

// recoverDead takes the lock if its holder is dead, and reports whether it
// did. It reads /proc: call it only after waiting a while.
func (o owner) recoverDead() bool {
	v := o.w.Load()
	if v == 0 || ownerAlive(v) {
		return false
	}
	return o.w.CompareAndSwap(v, selfWord|waitersBit)
}

// ---------------------------------------------------------------------------
// Waiting: spin, then sleep.
// ---------------------------------------------------------------------------

// Spin budget. On these virtual machines a futex hand-off costs 5-30 µs and
// a hand-off caught while spinning well under 1 µs, so a waiter first
// re-checks its word for a while (the other side, running on the other core,
// usually answers within it), then yields its thread for as long again (so
// a holder sharing this core can run), and only then sleeps. The clock is
// read once every spinCheck re-checks.
//
// How long is adaptive, per primitive and process: spinning only pays when
// the other side is running. On a machine with more runnable threads than
// cores it is not, and a spinning waiter only delays the sleep it ends in
// (measured here under load: 4 µs of spin per side doubled an Event round
// trip). So a spin that ends in a sleep halves the budget, and a spin that
// catches the hand-off doubles it (plus spinGrow), between spinMin and
// spinMax: on a quiet machine it sits at spinMax, on a loaded one at
// spinMin, a few dozen re-checks.
const (
	spinMax   = 20 * time.Microsecond
	spinMin   = 0
	spinGrow  = 500 * time.Nanosecond
	spinCheck = 32
	// Sleeps time out after minNap, doubling up to maxNap, so that a
	// sleeper checks now and then for a peer that died: a dead lock holder
	// is noticed within about maxNap.
	minNap = 2 * time.Millisecond
	maxNap = 64 * time.Millisecond
)

// spinBudget is a primitive's spin length in this process, in nanoseconds
// plus one (0 means spinMax: the zero value is ready to use).
type spinBudget struct{ ns atomic.Int64 }

func (sb *spinBudget) get() time.Duration {
	if sb == nil {
		return spinMax
	}
	if v := sb.ns.Load(); v > 0 {
		return time.Duration(v - 1)
	}
	return spinMax
}

func (sb *spinBudget) set(d time.Duration) {
	if sb != nil {
		sb.ns.Store(int64(min(max(d, spinMin), spinMax)) + 1)
	}
}

// errNap reports that a sleep ran out its timeout: time to look for a dead
// peer, then sleep again.
var errNap = errors.New("nap over")

// naps counts sleeps that ran out their timeout, for tests: in a healthy
// hand-off between live processes they are rare.
var naps atomic.Uint64

// backoff drives one blocking call through its spin and sleep phases.
type backoff struct {
	ctx    context.Context
	sb     *spinBudget
	budget time.Duration // this wait's spin length, read at its start
	spins  int
	start  time.Time // of the spin, read after the first spinCheck re-checks
	done   bool      // the spin is over: sleep
	nap    time.Duration
}

func newBackoff(ctx context.Context, sb *spinBudget) backoff {
	return backoff{ctx: ctx, sb: sb, budget: sb.get()}
}

// won is called when the wait ends without sleeping: if it spun, the spin
// paid, and the budget grows.
func (b *backoff) won() {
	if b.spins > 0 && !b.done && b.budget < spinMax {
		b.sb.set(2*b.budget + spinGrow)
	}
}

// spin reports whether the caller should re-check its word at once.
func (b *backoff) spin() bool {
	if b.done {
		return false
	}
	b.spins++
	if b.spins%spinCheck != 0 {
		return true
	}
	if b.start.IsZero() {
		b.start = time.Now()
		return true
	}
	switch el := time.Since(b.start); {
	case el < b.budget:
		return true
	case el < 2*b.budget:
		runtime.Gosched()
		return true
	}
	b.done = true
	b.sb.set(b.budget / 2)
	return false
}

// sleep waits while *addr == val. It returns nil when woken (or the word
// already differed), errNap when the timeout ran out, or ctx's error.
func (b *backoff) sleep(addr *atomic.Uint32, val uint32) error {
	if b.nap == 0 {
		b.nap = minNap
	}
	err := futex.WaitContext(b.ctx, addr, val, b.nap)
	if err == futex.ErrTimeout {
		naps.Add(1)
		b.nap = min(2*b.nap, maxNap)
		return errNap
	}
	return err
}

// ---------------------------------------------------------------------------
// Placement.
// ---------------------------------------------------------------------------

// obj is where a primitive lives: a block, and the offset of the primitive
// inside it (0 for one allocated by NewX, anything for XAt).
type obj struct {
	b     shm.Block
	off   int64
	alloc bool        // made by NewX or OpenX: it has a handle
	spin  *spinBudget // this process's spin length for the primitive
}

// live reports whether the region is still mapped. Every method checks it
// before it touches shared memory: after Close, the memory is gone.
func (o *obj) live() bool { return o.b.Live() }

func (o *obj) u32(off int64) *atomic.Uint32 { return o.b.Uint32(o.off + off) }
func (o *obj) u64(off int64) *atomic.Uint64 { return o.b.Uint64(o.off + off) }

func (o *obj) handle() shm.Handle {
	if !o.alloc {
		return shm.Handle{}
	}
	return o.b.Handle()
}

func (o *obj) mustLive(what string) {
	if !o.live() {
		panic("forkless/sync: " + what + " used after its region was closed")
	}
}

func closedErr(verb string) error { return fmt.Errorf("%s: %w", verb, errClosed) }

func allocObj(r *shm.Region, kind shm.Kind, size int64, what string) (obj, error) {
	if r == nil {
		return obj{}, fmt.Errorf("new %s: nil region: %w", what, ErrInvalid)
	}
	b, err := r.Alloc(shm.Layout{Kind: kind, Size: size})
	if err != nil {
		return obj{}, fmt.Errorf("new %s: %w", what, err)
	}
	return obj{b: b, alloc: true, spin: new(spinBudget)}, nil
}

func openObj(h shm.Handle, kind shm.Kind, size int64, what string) (obj, error) {
	b, err := shm.BindHandle(h, kind)
	if err != nil {
		return obj{}, fmt.Errorf("open %s: %w", what, err)
	}
	if b.Len() < size {
		return obj{}, fmt.Errorf("open %s: %d bytes, want %d: %w", what, b.Len(), size, shm.ErrHandle)
	}
	return obj{b: b, alloc: true, spin: new(spinBudget)}, nil
}

// atObj checks a placement inside another package's block.
func atObj(b shm.Block, off, size, align int64, what string) (obj, error) {
	if b.Bytes() == nil {
		return obj{}, fmt.Errorf("%s at %d: %w", what, off, errClosed)
	}
	if off < 0 || off%align != 0 || off > b.Len()-size {
		return obj{}, fmt.Errorf("%s at %d: needs %d bytes aligned to %d inside a %d-byte block: %w",
			what, off, size, align, b.Len(), ErrInvalid)
	}
	return obj{b: b, off: off, spin: new(spinBudget)}, nil
}
