package owner

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
)

// TestWatcherWakesOnExit: a sleeper on a futex word, watching a process,
// is woken when that process exits, long before its timeout, and Fired
// says why. Nobody, this process, and a dead process count as watched.
func TestWatcherWakesOnExit(t *testing.T) {
	cmd, w := startChild(t, "sleep", "30")
	defer cmd.Wait() //nolint:errcheck // killed below
	var word atomic.Uint32
	var x Watcher
	defer x.Stop()
	if !x.Watch(w, &word) || !x.Watch(w, &word) || len(x.watched) != 1 {
		t.Fatalf("Watch of a live child: watched %v", x.watched)
	}
	if !x.Watch(0, &word) || !x.Watch(selfWord(t), &word) || x.Fired() {
		t.Fatal("nobody and this process must count as watched, and nothing fired yet")
	}
	woke := make(chan error, 1)
	go func() { woke <- futex.Wait(&word, 0, 20*time.Second) }()
	time.Sleep(20 * time.Millisecond) // let the sleeper reach the kernel (a wake before it is only a spare loop)
	start := time.Now()
	cmd.Process.Kill()
	for {
		select {
		case err := <-woke:
			if err != nil {
				t.Fatalf("sleeper returned %v, want a wake", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the child's exit did not wake the sleeper")
		}
		if x.Fired() {
			break
		}
		go func() { woke <- futex.Wait(&word, 0, 20*time.Second) }() // woken early: sleep again
	}
	t.Logf("woken %v after the kill", time.Since(start))
	var y Watcher
	if !y.Watch(w, &word) || !y.Fired() {
		t.Fatal("a dead process must count as watched and fired at once")
	}
}

// TestLockWatchedExitBeforeSleep: a watched holder that exits after the
// waiter's Watch but before its sleep (stage "after-watch": before it
// looked at Pending; "before-sleep": after, so only the exit callback's
// repeated wakes reach it) must not leave the waiter asleep for its
// LongNap: no nap runs out after the exit, and the waiter takes the lock
// with ErrOwnerDead. (Before the fix the exit's one wake found nobody and
// the nap ran out its 2 s, as TestCrashHolderRecovered/after-kill once saw.)
func TestLockWatchedExitBeforeSleep(t *testing.T) {
	for _, stage := range []string{"after-watch", "before-sleep"} {
		t.Run(stage, func(t *testing.T) {
			cmd, holder := startChild(t, "sleep", "30")
			defer cmd.Wait()         //nolint:errcheck // killed below
			defer cmd.Process.Kill() //nolint:errcheck // at most once more
			l, w := newLock(t)
			w.Store(uint64(holder))
			var napsAfter atomic.Uint64
			fire := func(x *Watcher) {
				if len(x.watched) == 0 || napsAfter.Load() != 0 {
					return // not watching yet, or fired already
				}
				cmd.Process.Kill() //nolint:errcheck // checked through Fired
				// Wait until the exit callback has run once; bounded, so
				// that a lost pidfd wake fails the test instead of hanging
				// it (under qemu-user it was lost now and then: the holder a
				// zombie, its pidfd in the poller's set, the netpoller
				// never woken; docs/arm64.md).
				for deadline := time.Now().Add(10 * time.Second); !x.fired.Load(); {
					if time.Now().After(deadline) {
						t.Errorf("the holder's exit callback did not run within 10 s of its kill")
						break
					}
					time.Sleep(time.Millisecond)
				}
				napsAfter.Store(futex.Naps())
			}
			defer func(h func(string, *Watcher)) { testHook = h }(testHook)
			testHook = func(at string, x *Watcher) {
				if at == stage {
					fire(x)
				}
			}
			start := time.Now()
			if err := l.Lock(); err != ErrOwnerDead {
				t.Fatalf("Lock over a killed holder = %v, want ErrOwnerDead", err)
			}
			t.Logf("taken %v after the start", time.Since(start))
			if napsAfter.Load() == 0 {
				t.Fatal("the hook never ran: the waiter did not watch its holder")
			}
			if n := futex.Naps() - napsAfter.Load(); n != 0 {
				t.Fatalf("%d nap(s) ran out after the holder's exit: its wake was lost", n)
			}
		})
	}
}
