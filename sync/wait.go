package sync

import (
	"context"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/internal/spin"
)

// backoff drives one blocking call: a spin of this primitive's adaptive
// length (internal/spin: it grows when a spin catches the hand-off and
// shrinks when it ends in a sleep anyway), then futex sleeps in naps
// (futex.Napper: 2 ms doubling to 64 ms) so that a waiter on a peer that
// died wakes to look for it.
//
// The pattern of every wait in this package: re-check the word; spin while
// spin() says so; announce the waiter in the word (a waiters bit or
// count); sleep expecting the word as announced. A release makes the
// FUTEX_WAKE system call only when it sees the announcement, so with
// nobody waiting, a release is one atomic instruction. Each wait writes
// out, next to its code, why no wake-up can be lost between the
// announcement and the sleep.
//
// A wait that may be on a peer that dies looks for dead peers after each
// nap. Once it has looked and found none, it watches its peers instead
// (owner.Watcher: a pidfd per peer, whose exit wakes the sleeper) and its
// naps grow long (futex.LongNap): a wait on a live, silent peer then costs
// next to nothing. Where a peer cannot be watched (no pidfds, too many),
// the naps stay short. A backoff must not be copied once it watches.
type backoff struct {
	ctx      context.Context
	sp       spin.Spin
	nap      futex.Napper
	watch    owner.Watcher
	watching bool // looked for dead peers once: watch them from now on
}

func newBackoff(ctx context.Context, b *spin.Budget) backoff {
	return backoff{ctx: ctx, sp: b.Start()}
}

// newWaitBackoff is newBackoff for a wait on the other side of a
// conversation (Event, Semaphore): its spin is skipped when this process
// has just woken a sleeper (spin.Woke, Budget.StartWait), leaving the CPU
// to the side it woke. Locks use newBackoff: their holder is not that side.
func newWaitBackoff(ctx context.Context, b *spin.Budget) backoff {
	return backoff{ctx: ctx, sp: b.StartWait()}
}

// wake wakes up to n sleepers on addr (n < 0: all) and, when it found
// one, tells the spin policy (spin.Woke) so that this process's next
// conversation wait sleeps at once instead of spinning on the CPU the
// woken side needs. It returns how many it woke.
func wake(addr *atomic.Uint32, n int) int {
	k, _ := futex.Wake(addr, n)
	if k > 0 {
		spin.Woke()
	}
	return k
}

// long lets the naps grow long from the start: for waits with no peer that
// can die on them (Semaphore, Event, WaitGroup), where a nap is only a
// safety net.
func (b *backoff) long() { b.nap.SetLong(true) }

// napped reports whether a sleep that returned err calls for a look for
// dead peers: its nap ran out, or a watched process exited. After the
// look, the wait watches its peers (see watchPeers).
func (b *backoff) napped(err error) bool {
	if err == errNap || (err == nil && b.watch.Fired()) {
		b.watching = true
		return true
	}
	return false
}

// watchPeers is called before each sleep: once the wait has looked for
// dead peers, peers must watch each one (through b.watch.Watch, waking
// addr) and report whether it could; the naps grow long only if it
// could.
func (b *backoff) watchPeers(addr *atomic.Uint32, peers func(watch func(owner.Word) bool) bool) {
	if b.watching {
		b.nap.SetLong(peers(func(w owner.Word) bool { return b.watch.Watch(w, addr) }))
	}
}

// stop ends the watches: defer it where the backoff is made.
func (b *backoff) stop() { b.watch.Stop() }

// won is called when the wait ends without sleeping: if it spun, the spin
// paid, and the budget grows.
func (b *backoff) won() { b.sp.Caught() }

// spin reports whether the caller should re-check its word at once.
func (b *backoff) spin() bool { return b.sp.Again() }

// errNap reports that a sleep ran out its timeout: time to look for a dead
// peer, then sleep again.
var errNap = futex.ErrTimeout

// sleep waits while *addr == val. It returns nil when woken (or the word
// already differed), errNap when the nap ran out, or ctx's error.
//
// Cancellation wakes the sleeper at once through a context.AfterFunc hook
// that issues FUTEX_WAKE on the word (futex.WaitContext says why this
// beats polling with short timeouts).
//
// A watched exit not yet seen (Watch of a peer already dead, or an exit
// since the Watch, whose wake found nobody asleep) returns nil at once:
// napped then looks for the dead peer instead of sleeping a LongNap.
func (b *backoff) sleep(addr *atomic.Uint32, val uint32) error {
	if b.watch.Pending() {
		return nil
	}
	return b.nap.Sleep(b.ctx, addr, val)
}
