package sync_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// CPython's test_notify, test_notify_n and test_notify_all
// (Lib/test/lock_tests.py, ConditionTests), across processes: N children
// wait on one Cond, and each notify must return exactly as many of them
// from Wait as it asked for (issue 12: every sleeper used to return).

type notifyArg struct {
	Cond, Woke shm.Handle
}

// notifyWaiter waits once on the Cond, then counts itself woken.
var notifyWaiter = spawn.Register("sync.notifyWaiter", func(ctx context.Context, a notifyArg) (int, error) {
	c, err := fsync.OpenCond(a.Cond)
	if err != nil {
		return 0, err
	}
	woke, err := shm.OpenValue[atomic.Int64](a.Woke)
	if err != nil {
		return 0, err
	}
	if err := c.L.Lock(); err != nil {
		return 0, err
	}
	err = c.WaitContext(ctx)
	woke.Ptr().Add(1)
	c.L.Unlock()
	return 0, err
})

// notifySettle is how long a test waits, after the woken waiters it expects
// have counted themselves, for any further (wrong) one. It is several times
// the longest nap (64 ms), after which a sleeper re-checks its word: the
// old Cond released every sleeper at its next nap.
const notifySettle = 400 * time.Millisecond

type notifyRig struct {
	t    *testing.T
	c    *fsync.Cond
	woke *atomic.Int64
	ps   []*spawn.Process[int]
}

// newNotifyRig starts n waiter processes and returns once all n are
// inside Wait (the Cond's count of waiters, an event, not a sleep).
func newNotifyRig(t *testing.T, n int) *notifyRig {
	r := region(t)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	woke := must[*shm.Value[atomic.Int64]](t)(shm.NewValue[atomic.Int64](r))
	rig := &notifyRig{t: t, c: c, woke: woke.Ptr()}
	for range n {
		p, err := notifyWaiter.Start(ctxT(t), notifyArg{Cond: c.Handle(), Woke: woke.Handle()}, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Kill() })
		rig.ps = append(rig.ps, p)
	}
	rig.until(func() bool { return c.Waiting() == n }, "all waiters inside Wait")
	return rig
}

// until polls cond (a shared word) until it holds, failing after 20 s.
func (rig *notifyRig) until(cond func() bool, what string) {
	rig.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			rig.t.Fatalf("timed out waiting for %s (woken %d, waiting %d)", what, rig.woke.Load(), rig.c.Waiting())
		}
		time.Sleep(time.Millisecond)
	}
}

// notify calls notify under the Cond's Mutex and checks that the count of
// woken waiters reaches want, and stays there for notifySettle.
func (rig *notifyRig) notify(what string, notify func(), want int64) {
	rig.t.Helper()
	if err := rig.c.L.Lock(); err != nil {
		rig.t.Fatal(err)
	}
	notify()
	rig.c.L.Unlock()
	rig.until(func() bool { return rig.woke.Load() >= want }, what)
	time.Sleep(notifySettle)
	if got := rig.woke.Load(); got != want {
		rig.t.Fatalf("after %s: %d waiters returned from Wait, want %d", what, got, want)
	}
}

func (rig *notifyRig) done() { waitAll(rig.t, rig.ps) }

func TestCondition_notify(t *testing.T) {
	rig := newNotifyRig(t, 4)
	rig.notify("Signal", rig.c.Signal, 1)
	rig.notify("Notify(1)", func() { rig.c.Notify(1) }, 2)
	rig.notify("Broadcast", rig.c.Broadcast, 4)
	rig.done()
}

func TestCondition_notify_n(t *testing.T) {
	rig := newNotifyRig(t, 6)
	rig.notify("Notify(2)", func() { rig.c.Notify(2) }, 2)
	rig.notify("Notify(3)", func() { rig.c.Notify(3) }, 5)
	rig.notify("Notify(10)", func() { rig.c.Notify(10) }, 6) // at most those waiting
	rig.done()
}

func TestCondition_notify_all(t *testing.T) {
	rig := newNotifyRig(t, 5)
	rig.notify("Notify(-1)", func() { rig.c.Notify(-1) }, 5)
	if n := rig.c.Waiting(); n != 0 {
		t.Fatalf("%d waiters left after notifying all", n)
	}
	rig.done()
}

// A waiter that leaves on its context gives its place up: the next notify
// goes to a waiter still waiting, not to the one that left.
func TestCondCancelledWaiterSpendsNoNotify(t *testing.T) {
	r := region(t)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	wait := func(ctx context.Context, out chan<- error) {
		c.L.Lock()
		err := c.WaitContext(ctx)
		c.L.Unlock()
		out <- err
	}
	leaving, leave := context.WithCancel(ctxT(t))
	first, second := make(chan error, 1), make(chan error, 1)
	go wait(leaving, first) // the older ticket
	waitUntil(t, func() bool { return c.Waiting() == 1 })
	go wait(ctxT(t), second)
	waitUntil(t, func() bool { return c.Waiting() == 2 })
	leave()
	defer func() { c.L.Lock(); c.Broadcast(); c.L.Unlock(); <-second }()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter returned %v, want context.Canceled", err)
	}
	c.L.Lock()
	c.Signal()
	c.L.Unlock()
	select {
	case err := <-second:
		second <- nil // for the deferred wait
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the notify was spent on the waiter that had left")
	}
}

// A waiter process killed inside Wait, then chosen by a notify, swallows
// that wake only until a live waiter's next nap: the live waiter takes it.
func TestCondDeadWaiterPassesNotifyOn(t *testing.T) {
	r := region(t)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	woke := must[*shm.Value[atomic.Int64]](t)(shm.NewValue[atomic.Int64](r))
	p, err := notifyWaiter.Start(ctxT(t), notifyArg{Cond: c.Handle(), Woke: woke.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	waitUntil(t, func() bool { return c.Waiting() == 1 }) // the child holds the older ticket
	live := make(chan error, 1)
	go func() {
		c.L.Lock()
		err := c.WaitContext(ctxT(t))
		c.L.Unlock()
		live <- err
	}()
	waitUntil(t, func() bool { return c.Waiting() == 2 })
	p.Kill()
	<-p.Done()
	c.L.Lock()
	c.Signal() // chooses the dead child's ticket
	c.L.Unlock()
	start := time.Now()
	select {
	case err := <-live:
		t.Logf("live waiter took the dead one's wake after %v", time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a dead waiter swallowed the notify")
	}
}

// waitUntil polls a shared word until cond holds, failing after 20 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for a condition")
		}
		time.Sleep(time.Millisecond)
	}
}
