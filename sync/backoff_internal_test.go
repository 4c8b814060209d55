package sync

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/internal/spin"
)

// TestBackoffWatchedExitNotSlept: a wait that watches a peer whose exit
// it has not yet seen (here a Watch of a process that is gone, which
// fires with nobody asleep to wake) does not sleep its long nap: sleep
// returns at once and napped sends it to look for the dead peer. (Before
// the fix the sleep ran out futex.LongNap, 2 s, and returned errNap.)
func TestBackoffWatchedExitNotSlept(t *testing.T) {
	var budget spin.Budget
	b := newBackoff(context.Background(), &budget)
	defer b.stop()
	b.watching = true
	gone := owner.ID{Pid: 1 << 29, Start: 1}.Word() // beyond any pid_max
	var word atomic.Uint32
	b.watchPeers(&word, func(watch func(owner.Word) bool) bool { return watch(gone) })
	if err := b.sleep(&word, 0); err != nil {
		t.Fatalf("sleep with a watched exit not yet seen = %v, want nil at once", err)
	}
	if !b.napped(nil) {
		t.Fatal("napped did not report the watched exit")
	}
}
