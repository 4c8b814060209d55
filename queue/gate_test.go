package queue

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGateExcludes: goroutines that lock the gate are inside it one at a
// time, and every lock of a goroutine whose context is not cancelled
// succeeds, while others' contexts are cancelled at random moments (a
// waiter that took the wake-up token and then gives up passes it on; if it
// did not, the others would wait for good and the test would time out).
func TestGateExcludes(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	g := newGate()
	var inside, entries atomic.Int64
	const workers, rounds = 8, 2000
	var wg sync.WaitGroup
	for i := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Go(func() {
			for range rounds {
				ctx, cancel := context.WithCancel(context.Background())
				if i%2 == 1 && rng.IntN(2) == 0 {
					time.AfterFunc(time.Duration(rng.IntN(20))*time.Microsecond, cancel)
				}
				err := g.lock(ctx)
				if err != nil {
					cancel()
					if !errors.Is(err, context.Canceled) {
						t.Errorf("lock: %v", err)
					}
					continue
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d goroutines inside the gate", n)
				}
				entries.Add(1)
				if rng.IntN(4) == 0 {
					time.Sleep(time.Duration(rng.IntN(5)) * time.Microsecond)
				}
				inside.Add(-1)
				g.unlock()
				cancel()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("lockers stranded: state %#x after %d entries", g.state.Load(), entries.Load())
	}
	if s := g.state.Load(); s&^gateWoken != 0 {
		t.Fatalf("gate state %#x after every goroutine left, want free with no waiters", s)
	}
	if entries.Load() < workers/2*rounds {
		t.Fatalf("%d entries, want at least the %d of the goroutines never cancelled", entries.Load(), workers/2*rounds)
	}
}

// TestGateCancelledWaiter: a goroutine waiting for a held gate returns its
// context's error once the context is done, and is no longer counted.
func TestGateCancelledWaiter(t *testing.T) {
	g := newGate()
	if err := g.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.lock(ctx) }()
	waitFor(t, "a goroutine waiting at the gate", func() bool { return g.state.Load()>>gateShift == 1 })
	cancel()
	if err := waitErr(t, done, "a lock of the held gate, after its cancel"); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock of a held gate after cancel: %v, want context.Canceled", err)
	}
	if s := g.state.Load(); s != gateLocked {
		t.Fatalf("state %#x after the waiter left, want only locked", s)
	}
	g.unlock()
	if err := g.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestGateCancelledTokenPassesOn: a waiter that took the wake-up token
// and then found its context done hands the wake-up on (passToken): the
// other waiter gets the free gate. The test sets up the moment itself:
// the gate released with gateWoken set and the token taken by a waiter
// that gives up.
func TestGateCancelledTokenPassesOn(t *testing.T) {
	g := newGate()
	if err := g.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.lock(context.Background()) }()
	waitFor(t, "a goroutine waiting at the gate", func() bool { return g.state.Load()>>gateShift == 1 })
	// The unlock that woke a waiter which took the token and gave up:
	if !g.state.CompareAndSwap(gateLocked|gateWaiter, gateWoken|gateWaiter) {
		t.Fatalf("state %#x, want locked with one waiter", g.state.Load())
	}
	g.passToken()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the other waiter did not get the free gate: state %#x", g.state.Load())
	}
}

// TestGateUnlockUnlocked: unlocking a free gate is this process's own
// broken invariant: a panic.
func TestGateUnlockUnlocked(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("unlock of a free gate did not panic")
		}
	}()
	g := newGate()
	g.unlock()
}

// TestGetGoroutinesTakeTurns: goroutines of one process blocked in Get on
// one empty queue wait for their turn behind the gate: one of them sleeps
// on the ring's notEmpty, the others in the Go scheduler, from the moment
// two were seen waiting (the gate starts off; the ones already sleeping
// outside it are woken and queue at it). Each message put afterwards is
// delivered to exactly one of them. Without the gate all four sleep on
// notEmpty, which the test reports.
func TestGetGoroutinesTakeTurns(t *testing.T) {
	q := deferRing(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	settle := time.Now().Add(10 * time.Second)
	const getters = 4
	got := make(chan string, getters)
	for range getters {
		go func() {
			b, err := q.getAppend(ctx, nil)
			if err != nil {
				t.Error(err)
			}
			got <- string(b)
		}()
	}
	for !(q.takers.on.Load() && q.takers.state.Load()>>gateShift == getters-1 && q.notEmpty.Waiters() == 1) {
		if time.Now().After(settle) {
			t.Fatalf("after 10 s: gate on %v, %d goroutines at the gate, %d asleep on notEmpty; want 1 asleep, the other %d at the gate",
				q.takers.on.Load(), q.takers.state.Load()>>gateShift, q.notEmpty.Waiters(), getters-1)
		}
		time.Sleep(time.Millisecond)
	}
	want := map[string]bool{}
	for i := range getters {
		m := string(rune('a' + i))
		want[m] = true
		if err := q.putBytes(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for range getters {
		m := <-got
		if !want[m] {
			t.Fatalf("got %q, which was not put or was delivered twice", m)
		}
		delete(want, m)
	}
}

// TestGetCancelledBehindGate: a Get waiting for its turn behind another
// goroutine's Get returns its context's error when the context is done,
// and the goroutine whose turn it is still gets the next message.
func TestGetCancelledBehindGate(t *testing.T) {
	q := deferRing(t)
	q.contended()
	holder := make(chan error, 1)
	go func() {
		_, err := q.getAppend(context.Background(), nil)
		holder <- err
	}()
	waitFor(t, "a Get asleep on the ring", func() bool { return q.notEmpty.Waiters() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	behind := make(chan error, 1)
	go func() {
		_, err := q.getAppend(ctx, nil)
		behind <- err
	}()
	waitFor(t, "a Get waiting at the gate", func() bool { return q.takers.state.Load()>>gateShift == 1 })
	cancel()
	if err := waitErr(t, behind, "the Get behind the gate, after its cancel"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get behind the gate after cancel: %v, want context.Canceled", err)
	}
	if err := q.putBytes(context.Background(), []byte("m")); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, holder, "the holder's Get, after a put"); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond every millisecond until it holds, failing t if it
// does not within 10 s (what says what it waited for).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitErr returns the error c delivers, failing t if none comes within
// 10 s (what for says which call it waited for).
func waitErr(t *testing.T, c <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still blocked after 10 s", what)
		return nil
	}
}

// TestCloseReleasesGoroutinesAtTheGate: Close ends every Get blocked on the
// queue with ErrClosed, the one waiting on the ring and the ones waiting
// at the gate behind it.
func TestCloseReleasesGoroutinesAtTheGate(t *testing.T) {
	q := deferRing(t)
	q.contended()
	const getters = 4
	done := make(chan error, getters)
	for range getters {
		go func() {
			_, err := q.getAppend(context.Background(), nil)
			done <- err
		}()
	}
	waitFor(t, "one Get on the ring and the others at the gate", func() bool {
		return q.takers.state.Load()>>gateShift == getters-1 && q.notEmpty.Waiters() == 1
	})
	if err := q.close(); err != nil {
		t.Fatal(err)
	}
	for range getters {
		if err := waitErr(t, done, "a Get, after Close"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Get after Close: %v, want ErrClosed", err)
		}
	}
}
