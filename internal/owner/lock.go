package owner

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/spin"
)

// Lock is a robust lock on one owner word in shared memory, held by a
// process (not a goroutine): any goroutine of the holding process may
// unlock it. A Lock is this process's view of the word; copies of it share
// the word and the spin budget.
//
// Writers of the word: the process taking the lock (CAS 0 -> me), a waiter
// announcing itself (CAS v -> v|Waiters), a waiter taking it from a dead
// holder (CAS v -> me|Waiters, from exactly the dead holder's word, so only
// one such waiter wins), the holder releasing it (CAS me -> 0, or Swap 0
// when the waiters bit is set). Readers: all of those. Taking the lock
// writes the whole identity with one CAS, so the word never names a holder
// only half way.
type Lock struct {
	w    *atomic.Uint64
	f    *atomic.Uint32 // w's low half, the futex word
	me   Word
	spin *spin.Budget
}

// LockAt returns the Lock whose owner word lies at b[off:] (8 bytes,
// 8-aligned), taken as me (from Self), spinning by budget. It fails, with
// an error wrapping errs.ErrCorrupt, when the word does not fit in b or is
// misaligned.
func LockAt(b []byte, off int, me Word, budget *spin.Budget) (Lock, error) {
	w, err := mapped.At[atomic.Uint64](b, off)
	if err != nil {
		return Lock{}, fmt.Errorf("place owner lock: %w", err)
	}
	f, err := mapped.At[atomic.Uint32](b, off+FutexOffset)
	if err != nil {
		return Lock{}, fmt.Errorf("place owner lock: %w", err)
	}
	if me == 0 || me&Waiters != 0 {
		return Lock{}, fmt.Errorf("place owner lock: %#x is not a process", uint64(me))
	}
	return Lock{w: w, f: f, me: me, spin: budget}, nil
}

// Me returns the word this Lock takes the lock as.
func (l Lock) Me() Word { return l.me }

// Holder returns the owner word now (0: unlocked).
func (l Lock) Holder() Word { return Word(l.w.Load()) }

// HeldByMe reports whether this process holds the lock.
func (l Lock) HeldByMe() bool { return l.Holder().Holder() == l.me }

// TryLock takes the lock if it is free and reports whether it did. It
// never waits, and never takes the lock from a dead holder.
func (l Lock) TryLock() bool { return l.w.CompareAndSwap(0, uint64(l.me)) }

// Lock takes the lock, waiting as long as it takes. It returns nil, or
// ErrOwnerDead when it took the lock from a holder that died: the caller
// holds the lock in both cases.
func (l Lock) Lock() error { return l.LockContext(context.Background()) }

// LockContext is Lock that gives up when ctx ends, returning ctx's error
// without the lock. Cancellation wakes the waiter within microseconds.
//
// Lost wake-up argument. A waiter announces itself with CAS v -> v|Waiters
// and then sleeps with FUTEX_WAIT on the low half, expecting
// low32(v|Waiters). The holder releases with CAS me -> 0 (no waiters bit:
// no system call) or Swap 0 followed by FUTEX_WAKE when the old value had
// the bit.
//  1. If the release comes before the waiter's CAS, the CAS fails (the word
//     is 0 or names someone else) and the waiter loops and retries.
//  2. If the waiter's CAS comes first, the release sees the bit (its CAS
//     me -> 0 fails and the Swap returns it) and wakes.
//  3. The kernel compares the word with the expected value and queues the
//     waiter atomically with respect to FUTEX_WAKE: a release between the
//     CAS and the sleep changes the word, so the sleep returns at once.
//  4. A woken waiter that takes the lock sets the waiters bit itself (CAS
//     0 -> me|Waiters), since other sleepers may remain; at worst its
//     release makes one wake that finds nobody.
//  5. A waiter that leaves on its context may have absorbed a release's
//     wake meant for another sleeper: passOn wakes one (the lock is free)
//     or keeps the bit set (the holder's release will wake one).
//
// A dead holder never releases: a waiter sleeps in naps (futex.Napper) and
// after each one checks, with Alive, whether the holder it slept on still
// runs; if not, it takes the lock with one CAS from exactly that word.
func (l Lock) LockContext(ctx context.Context) error {
	if l.TryLock() {
		return nil
	}
	want := l.me // becomes me|Waiters once this waiter has announced itself
	sp := l.spin.Start()
	var nap futex.Napper
	for {
		v := l.w.Load()
		if v == 0 {
			if l.w.CompareAndSwap(0, uint64(want)) {
				sp.Caught()
				return nil
			}
			continue
		}
		if sp.Again() {
			continue
		}
		if !Word(v).HasWaiters() {
			if !l.w.CompareAndSwap(v, v|uint64(Waiters)) {
				continue
			}
			v |= uint64(Waiters)
		}
		want = l.me | Waiters
		switch err := nap.Sleep(ctx, l.f, uint32(v)); {
		case err == nil:
		case err == futex.ErrTimeout:
			// Slept a while on the same holder: is it still alive?
			if !Alive(Word(v)) && l.w.CompareAndSwap(v, uint64(l.me|Waiters)) {
				return ErrOwnerDead
			}
		default:
			l.passOn()
			return err
		}
	}
}

// passOn is called by an announced waiter that leaves without the lock
// (step 5 above): either wake one sleeper now (the lock is free) or make
// sure the waiters bit stays set (the holder's release will then wake one).
func (l Lock) passOn() {
	for {
		v := l.w.Load()
		if v == 0 {
			futex.Wake(l.f, 1)
			return
		}
		if Word(v).HasWaiters() || l.w.CompareAndSwap(v, v|uint64(Waiters)) {
			return
		}
	}
}

// Unlock releases the lock if this process holds it and reports whether it
// did. A release makes a system call only when the waiters bit is set.
func (l Lock) Unlock() bool {
	if l.w.CompareAndSwap(uint64(l.me), 0) {
		return true // nobody waits: no system call
	}
	return l.unlockWaited()
}

func (l Lock) unlockWaited() bool {
	if !l.HeldByMe() {
		return false
	}
	// Held by this process with the waiters bit set. Nobody else can
	// change the owner now (only a waiter that found this process dead
	// would), so Swap is safe; waiters may only have set the bit.
	if old := Word(l.w.Swap(0)); old.HasWaiters() {
		futex.Wake(l.f, 1)
	}
	return true
}

// RecoverDead takes the lock if its holder is dead, and reports whether it
// did (the caller then holds it, as after ErrOwnerDead). It reads /proc:
// call it only after waiting a while.
func (l Lock) RecoverDead() bool {
	v := l.w.Load()
	if v == 0 || Alive(Word(v)) {
		return false
	}
	return l.w.CompareAndSwap(v, uint64(l.me|Waiters))
}
