package sync

import (
	"context"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/futex"
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
type backoff struct {
	ctx context.Context
	sp  spin.Spin
	nap futex.Napper
}

func newBackoff(ctx context.Context, b *spin.Budget) backoff {
	return backoff{ctx: ctx, sp: b.Start()}
}

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
func (b *backoff) sleep(addr *atomic.Uint32, val uint32) error {
	return b.nap.Sleep(b.ctx, addr, val)
}
