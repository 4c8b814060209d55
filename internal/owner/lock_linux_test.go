package owner

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/internal/spin"
)

// newLock returns a Lock on a fresh word, and the word.
func newLock(t *testing.T) (Lock, *atomic.Uint64) {
	t.Helper()
	mem := new([2]uint64)
	l, err := LockAt(mapped.Bytes(mem), 8, selfWord(t), new(spin.Budget))
	if err != nil {
		t.Fatal(err)
	}
	return l, l.w
}

func TestLockAtChecksPlacement(t *testing.T) {
	b := mapped.Bytes(new([2]uint64))
	me := selfWord(t)
	for _, off := range []int{-8, 4, 12, 16} {
		if _, err := LockAt(b, off, me, new(spin.Budget)); !errors.Is(err, errs.ErrCorrupt) {
			t.Errorf("LockAt(%d) = %v, want ErrCorrupt", off, err)
		}
	}
	if _, err := LockAt(b, 0, 0, new(spin.Budget)); err == nil {
		t.Error("LockAt as nobody succeeded")
	}
	l, err := LockAt(b, 8, me, new(spin.Budget))
	if err != nil {
		t.Fatal(err)
	}
	// The futex word is the owner word's low half: the pid lies there.
	l.TryLock()
	if got := l.f.Load(); got != uint32(me) {
		t.Fatalf("futex half %#x, want %#x", got, uint32(me))
	}
}

// Uncontended lock and unlock are one CAS each: no system call.
func TestUncontendedNoSyscall(t *testing.T) {
	l, _ := newLock(t)
	before := futex.Syscalls()
	for range 1000 {
		if !l.TryLock() {
			t.Fatal("TryLock of a free lock failed")
		}
		if l.TryLock() {
			t.Fatal("TryLock of a held lock succeeded")
		}
		if !l.HeldByMe() || !l.Unlock() {
			t.Fatal("unlock failed")
		}
		if err := l.Lock(); err != nil {
			t.Fatal(err)
		}
		l.Unlock()
	}
	if n := futex.Syscalls() - before; n != 0 {
		t.Fatalf("%d system calls without contention", n)
	}
	if l.Unlock() {
		t.Fatal("Unlock of a free lock reported success")
	}
}

// Goroutines of one process exclude each other on the word (the holder is
// the process, but the word is not reentrant), and every hand-off through
// a sleep is woken: no lost wake-up.
func TestContendedHandOff(t *testing.T) {
	l, _ := newLock(t)
	l.spin.SetMax(time.Nanosecond) // sleep at once: exercise the futex path
	var inside, total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if err := l.Lock(); err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					t.Error("two holders at once")
				}
				total.Add(1)
				inside.Add(-1)
				l.Unlock()
			}
		}()
	}
	wg.Wait()
	if total.Load() != 8000 || l.Holder() != 0 {
		t.Fatalf("total %d, word %#x", total.Load(), uint64(l.Holder()))
	}
}

// A dead holder's lock is taken, once, with ErrOwnerDead.
func TestDeadHolderReported(t *testing.T) {
	cmd, dead := startChild(t, "true")
	cmd.Wait()
	l, w := newLock(t)
	w.Store(uint64(dead))
	start := time.Now()
	if err := l.Lock(); err != ErrOwnerDead {
		t.Fatalf("Lock over a dead holder = %v, want ErrOwnerDead", err)
	}
	t.Logf("taken after %v", time.Since(start))
	if !l.HeldByMe() {
		t.Fatal("the lock does not name this process after recovery")
	}
	if !l.Unlock() || l.Holder() != 0 {
		t.Fatal("unlock after recovery failed")
	}
	w.Store(uint64(dead))
	if !l.RecoverDead() || !l.HeldByMe() {
		t.Fatal("RecoverDead did not take a dead holder's lock")
	}
	if l.RecoverDead() {
		t.Fatal("RecoverDead took the lock from this live process")
	}
}

// A live holder's lock is never taken: a waiter that slept past several
// liveness checks still times out on its context, and leaves the word as
// it found it (but for the waiters bit).
func TestLiveHolderKeepsLock(t *testing.T) {
	l, w := newLock(t)
	ppid := os.Getppid()
	st, err := proc.StartTime(ppid)
	if err != nil {
		t.Skip("no start time for the parent:", err)
	}
	parent := ID{Pid: int32(ppid), Start: uint32(st)}.Word()
	w.Store(uint64(parent))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext against a live holder = %v, want DeadlineExceeded", err)
	}
	if got := Word(w.Load()); got.Holder() != parent || !got.HasWaiters() {
		t.Fatalf("owner word %#x, want %#x with the waiters bit", uint64(got), uint64(parent))
	}
	if l.Unlock() {
		t.Fatal("unlocked a lock another process holds")
	}
}

// Cancellation wakes a sleeping waiter promptly, and the waiter it leaves
// behind is still woken by the release (passOn).
func TestCancelPassesWakeOn(t *testing.T) {
	l, _ := newLock(t)
	l.spin.SetMax(time.Nanosecond)
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { gone <- l.LockContext(ctx) }()
	got := make(chan error, 1)
	go func() { got <- l.Lock() }()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	if err := <-gone; err != context.Canceled {
		t.Fatalf("cancelled waiter: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("cancellation took %v", d) // a wake, not the end of a nap
	}
	l.Unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the remaining waiter never took the released lock")
	}
	l.Unlock()
}

// A robust Lock follows pthread's robust mutex: the taker from a dead
// holder holds it Inconsistent; marked consistent, it unlocks normally;
// unlocked without that, it is NotRecoverable for every later locker,
// including one already waiting.
func TestRobustLockModel(t *testing.T) {
	cmd, dead := startChild(t, "true")
	cmd.Wait()
	pl, w := newLock(t)
	l := pl.Robust()
	w.Store(uint64(dead))
	if err := l.Lock(); err != ErrOwnerDead {
		t.Fatalf("Lock over a dead holder = %v, want ErrOwnerDead", err)
	}
	if !l.HeldByMe() || l.Holder()&Inconsistent == 0 {
		t.Fatalf("after the takeover the word is %#x, want this process, inconsistent", uint64(l.Holder()))
	}
	if !l.MarkConsistent() || l.Holder()&Inconsistent != 0 {
		t.Fatal("MarkConsistent left the word inconsistent")
	}
	if !l.Unlock() || l.Holder() != 0 {
		t.Fatal("unlock after MarkConsistent did not free the lock")
	}
	if err := l.Lock(); err != nil {
		t.Fatalf("Lock after recovery = %v", err)
	}
	l.Unlock()

	// Again, and this time unlocked while inconsistent, with a waiter.
	w.Store(uint64(dead))
	if !l.RecoverDead() || l.Holder()&Inconsistent == 0 {
		t.Fatal("RecoverDead did not take the lock inconsistent")
	}
	pl.spin.SetMax(time.Nanosecond)
	waiting := make(chan error, 1)
	go func() { waiting <- l.Lock() }()
	for !l.Holder().HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	if !l.Unlock() || !l.Holder().Lost() {
		t.Fatalf("unlock while inconsistent left %#x, want NotRecoverable", uint64(l.Holder()))
	}
	select {
	case err := <-waiting:
		if err != ErrNotRecoverable {
			t.Fatalf("waiter got %v, want ErrNotRecoverable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter never learned the lock was lost")
	}
	if err := l.Lock(); err != ErrNotRecoverable || l.TryLock() || l.RecoverDead() || l.MarkConsistent() {
		t.Fatalf("a NotRecoverable lock was taken (Lock: %v)", err)
	}
	if !l.Holder().Valid() {
		t.Fatal("NotRecoverable is not a valid word")
	}
}

// Without Robust, a takeover is reported once and the lock is consistent.
func TestPlainLockTakeoverConsistent(t *testing.T) {
	cmd, dead := startChild(t, "true")
	cmd.Wait()
	l, w := newLock(t)
	w.Store(uint64(dead))
	if err := l.Lock(); err != ErrOwnerDead || l.Holder()&Inconsistent != 0 {
		t.Fatalf("Lock = %v, word %#x", err, uint64(l.Holder()))
	}
	if !l.Unlock() || l.Holder() != 0 {
		t.Fatal("plain unlock after a takeover")
	}
}
