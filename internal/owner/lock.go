package owner

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/errs"
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
// holder (CAS v -> me|Waiters, and |Inconsistent on a RobustLock, from
// exactly the dead holder's word, so only one such waiter wins), the holder
// marking it consistent (CAS clearing Inconsistent), the holder releasing
// it (CAS me -> 0, or Swap 0 when the waiters bit is set, or Swap
// NotRecoverable when Inconsistent is set). Readers: all of those. Taking
// the lock writes the whole identity with one CAS, so the word never names
// a holder only half way.
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
// holds the lock in both cases. It returns ErrNotRecoverable, without the
// lock, once a RobustLock on the same word left it NotRecoverable.
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
// After its first nap it also watches the holder (Watcher: a pidfd), whose
// exit wakes it at once, and its naps grow to futex.LongNap: a wait on a
// live, silent holder costs next to nothing.
func (l Lock) LockContext(ctx context.Context) error { return l.lockContext(ctx, false, nil) }

// lockContext is LockContext; robust says which word a takeover writes,
// rec is this process's Record of the lock or nil (see
// RobustLock.LockRecorded).
func (l Lock) lockContext(ctx context.Context, robust bool, rec *Record) error {
	if l.TryLock() {
		return nil
	}
	want := l.me // becomes me|Waiters once this waiter has announced itself
	sp := l.spin.StartLock()
	var nap futex.Napper
	var watch Watcher // set up after the first nap: short waits never pay for it
	defer watch.Stop()
	watching := false
	for {
		v := l.w.Load()
		if v == 0 {
			if l.w.CompareAndSwap(0, uint64(want)) {
				sp.Caught()
				return nil
			}
			continue
		}
		if Word(v).Lost() {
			return ErrNotRecoverable
		}
		if rec != nil && Word(v).Holder() == l.me && rec.alone() {
			l.passOn()
			return fmt.Errorf("owner word %#x names this process, which does not hold the lock: %w", v, errs.ErrCorrupt)
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
		if watching {
			nap.SetLong(watch.Watch(Word(v), l.f))
			testHook("after-watch", &watch)
		}
		var err error // a watched exit not yet seen: look now, do not sleep
		if !watch.Pending() {
			testHook("before-sleep", &watch)
			err = nap.Sleep(ctx, l.f, uint32(v))
		}
		if err == futex.ErrTimeout || (err == nil && watch.Fired()) {
			// Slept a while on the same holder, or a holder exited:
			// is this one still alive? From now on its exit wakes
			// this waiter (a pidfd), and the naps grow long.
			if !Alive(Word(v)) && l.w.CompareAndSwap(v, uint64(l.takeover(robust))) {
				return ErrOwnerDead
			}
			watching = true
		} else if err != nil {
			l.passOn()
			return err
		}
	}
}

// testHook runs after a waiter's Watch ("after-watch") and right before
// its sleep ("before-sleep"); tests set it to make a watched holder exit
// in the window before the kernel queues the sleeper.
var testHook = func(at string, x *Watcher) {}

// takeover is the word a taker from a dead holder writes: this process,
// the waiters bit (others may sleep), and on a RobustLock the inconsistent
// bit.
func (l Lock) takeover(robust bool) Word {
	if robust {
		return l.me | Waiters | Inconsistent
	}
	return l.me | Waiters
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
// did. A release makes a system call only when the waiters bit is set. A
// lock held Inconsistent (a RobustLock's takeover) is left NotRecoverable,
// and every waiter is woken to find that out.
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
	// Held by this process with the waiters or inconsistent bit set.
	// Nobody else can change the owner now (only a waiter that found this
	// process dead would), so Swap is safe; waiters may only have set the
	// waiters bit.
	var next Word
	if l.Holder()&Inconsistent != 0 {
		next = NotRecoverable
	}
	switch old := Word(l.w.Swap(uint64(next))); {
	case next != 0:
		futex.Wake(l.f, -1)
	case old.HasWaiters():
		futex.Wake(l.f, 1)
	}
	return true
}

// RecoverDead takes the lock if its holder is dead, and reports whether it
// did (the caller then holds it, as after ErrOwnerDead). It reads /proc:
// call it only after waiting a while.
func (l Lock) RecoverDead() bool { return l.recoverDead(false) }

func (l Lock) recoverDead(robust bool) bool {
	v := l.w.Load()
	if v == 0 || Word(v).Lost() || Alive(Word(v)) {
		return false
	}
	return l.w.CompareAndSwap(v, uint64(l.takeover(robust)))
}

// RobustLock is a Lock that follows pthread's robust-mutex model: a
// takeover from a dead holder leaves the lock Inconsistent, so that if the
// taker dies too the next one is told ErrOwnerDead again, until a holder
// calls MarkConsistent; an Unlock while Inconsistent leaves it
// NotRecoverable, and every later lock call fails with ErrNotRecoverable.
// A plain Lock reports a takeover once and is consistent again: for a
// lock whose guarded state repairs itself (queue's claim lock). It is a
// type of its own, not a flag, so that a Lock stays four words: the fast
// paths copy it.
type RobustLock struct{ l Lock }

// Robust returns the RobustLock on l's word.
func (l Lock) Robust() RobustLock { return RobustLock{l} }

// Me, Holder, HeldByMe, TryLock and Unlock are Lock's.
func (r RobustLock) Me() Word          { return r.l.me }
func (r RobustLock) Holder() Word      { return r.l.Holder() }
func (r RobustLock) HeldByMe() bool    { return r.l.HeldByMe() }
func (r RobustLock) TryLock() bool     { return r.l.TryLock() }
func (r RobustLock) Unlock() bool      { return r.l.Unlock() }
func (r RobustLock) Lock() error       { return r.l.lockContext(context.Background(), true, nil) }
func (r RobustLock) RecoverDead() bool { return r.l.recoverDead(true) }

// LockContext is Lock's, but a takeover leaves the lock Inconsistent.
func (r RobustLock) LockContext(ctx context.Context) error { return r.l.lockContext(ctx, true, nil) }

// LockRecorded is LockContext checked against rec, this process's Record
// of the lock, which the caller keeps (Enter before, Leave after
// releasing or failing): a waiter that finds the word naming this process
// while rec counts nobody else here fails with an error wrapping
// errs.ErrCorrupt instead of waiting on a hold that does not exist. (A
// parameter, not a field: a Lock stays four words, which its fast paths
// copy; a fifth made an uncontended Mutex Lock+Unlock 67% slower, 54
// to 90 ns, fastest of 5 interleaved runs at load 24.)
func (r RobustLock) LockRecorded(ctx context.Context, rec *Record) error {
	return r.l.lockContext(ctx, true, rec)
}

// MarkConsistent records that what the lock guards is consistent again
// (pthread_mutex_consistent), so that Unlock releases it normally. It
// reports whether this process holds the lock (if not, it does nothing).
func (r RobustLock) MarkConsistent() bool {
	for {
		v := Word(r.l.w.Load())
		if v.Holder() != r.l.me {
			return false
		}
		if v&Inconsistent == 0 || r.l.w.CompareAndSwap(uint64(v), uint64(v&^Inconsistent)) {
			return true
		}
	}
}
