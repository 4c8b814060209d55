package event_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEventCountWakesSleeper(t *testing.T) {
	var seq, waiters, flag atomic.Uint32
	ec := event.New(&seq, &waiters)
	done := make(chan error, 1)
	go func() { done <- ec.Wait(context.Background(), func() bool { return flag.Load() != 0 }) }()
	// Wait until the waiter is asleep (announced), then set and notify.
	deadline := time.Now().Add(10 * time.Second)
	for ec.Waiters() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("waiter never announced itself")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // past the announcement, into the futex
	flag.Store(1)
	if !ec.Notify() {
		t.Fatal("Notify made no system call although a waiter slept")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter was not woken")
	}
	if ec.Waiters() != 0 {
		t.Fatalf("Waiters = %d after the wake, want 0", ec.Waiters())
	}
}

func TestEventCountNoSyscallWithoutSleepers(t *testing.T) {
	var seq, waiters, flag atomic.Uint32
	ec := event.New(&seq, &waiters)
	before := futex.Syscalls()
	for range 1000 {
		flag.Store(1)
		if ec.Notify() {
			t.Fatal("Notify made a system call with nobody waiting")
		}
		if err := ec.Wait(context.Background(), func() bool { return flag.Load() != 0 }); err != nil {
			t.Fatal(err)
		}
	}
	if n := futex.Syscalls() - before; n != 0 {
		t.Fatalf("%d futex system calls, want 0", n)
	}
}

func TestEventCountCancel(t *testing.T) {
	var seq, waiters atomic.Uint32
	ec := event.New(&seq, &waiters)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ec.Wait(ctx, func() bool { return false }) }()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("cancellation took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not wake the waiter")
	}
	if ec.Waiters() != 0 {
		t.Fatalf("Waiters = %d after cancel, want 0", ec.Waiters())
	}
}

func TestEventCountWaitEveryRechecks(t *testing.T) {
	var seq, waiters, flag atomic.Uint32
	ec := event.New(&seq, &waiters)
	go func() { time.Sleep(30 * time.Millisecond); flag.Store(1) }() // no Notify
	err := ec.WaitEvery(testCtx(t), 5*time.Millisecond, func() bool { return flag.Load() != 0 })
	if err != nil {
		t.Fatal(err)
	}
}

// TestEventCountPingPong hammers the lost-wake-up argument: two goroutines
// hand a token back and forth many times through one word each, sleeping
// whenever the spin misses. A lost wake-up hangs the test (caught by the
// context).
func TestEventCountPingPong(t *testing.T) {
	var seqA, waitA, seqB, waitB, turn atomic.Uint32
	a, b := event.New(&seqA, &waitA), event.New(&seqB, &waitB)
	const rounds = 20000
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		for i := range rounds {
			if err := b.Wait(ctx, func() bool { return turn.Load() == uint32(2*i+1) }); err != nil {
				done <- err
				return
			}
			turn.Store(uint32(2*i + 2))
			a.Notify()
			if i%64 == 0 {
				runtime.Gosched()
			}
		}
		done <- nil
	}()
	for i := range rounds {
		if err := a.Wait(ctx, func() bool { return turn.Load() == uint32(2*i) }); err != nil {
			t.Fatal(err)
		}
		turn.Store(uint32(2*i + 1))
		b.Notify()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type ecArg struct {
	Block shm.Handle
	N     uint32
}

// ecPong is the child of TestEventCountAcrossProcesses: it waits for each
// odd turn in the shared word at 8 and answers with the next even one.
var ecPong = spawn.Register("event.ecPong", func(ctx context.Context, a ecArg) (uint32, error) {
	b, err := shm.BindHandle(a.Block, shm.KindBytes)
	if err != nil {
		return 0, err
	}
	turn := b.Uint32(8)
	mine, theirs := countAt(b, 64, 68), countAt(b, 0, 4)
	for i := range a.N {
		if err := mine.Wait(ctx, func() bool { return turn.Load() == 2*i+1 }); err != nil {
			return i, err
		}
		turn.Store(2*i + 2)
		theirs.Notify()
	}
	return a.N, nil
})

func TestEventCountAcrossProcesses(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 128})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	ctx := testCtx(t)
	p, err := ecPong.Start(ctx, ecArg{Block: b.Handle(), N: n}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	turn := b.Uint32(8)
	mine, theirs := countAt(b, 0, 4), countAt(b, 64, 68)
	for i := uint32(0); i < n; i++ {
		if err := mine.Wait(ctx, func() bool { return turn.Load() == 2*i }); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		turn.Store(2*i + 1)
		theirs.Notify()
	}
	if got, err := p.Wait(ctx); err != nil || got != n {
		t.Fatalf("child = %d, %v", got, err)
	}
}

// countAt makes a Count over the words at seqOff and waitersOff of b.
func countAt(b shm.Block, seqOff, waitersOff int64) event.Count {
	return event.New(b.Uint32(seqOff), b.Uint32(waitersOff))
}

// TestMain lets the test binary serve as the child of cross-process tests.
func TestMain(m *testing.M) {
	spawn.Main()
	os.Exit(m.Run())
}

// A word another process keeps rewriting cannot hold a waiter or a
// notifier in its CAS loops: Wait returns by its context, Notify returns.
func TestScribbledWordBounded(t *testing.T) {
	var seq, waiters atomic.Uint32
	e := event.New(&seq, &waiters)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint32(0); ; i++ {
			select {
			case <-stop:
				return
			default:
				seq.Store(i) // a scribbler flipping SLEEPERS and the count
			}
		}
	}()
	defer func() { close(stop); <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	finished := make(chan error, 1)
	go func() { finished <- e.Wait(ctx, func() bool { return false }) }()
	for range 1000 {
		e.Notify()
	}
	select {
	case err := <-finished:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want the deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait on a scribbled word did not return by its context")
	}
}

// A Notify lost to another process cannot strand a waiter that has no
// deadline: here a stray write clears SLEEPERS under a sleeper, so the
// notifier's CAS makes no system call (as if the notifier were killed
// between its CAS and its FUTEX_WAKE). The sleeper looks again within a
// second (every sleep is bounded) and returns.
func TestLostNotifyDelaysNeverStrands(t *testing.T) {
	var seq, waiters, flag atomic.Uint32
	ec := event.New(&seq, &waiters)
	done := make(chan error, 1)
	go func() { done <- ec.Wait(context.Background(), func() bool { return flag.Load() != 0 }) }()
	deadline := time.Now().Add(10 * time.Second)
	for !ec.Sleepers() || ec.Waiters() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("waiter never announced itself")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // past the announcement, into the futex
	seq.Store(seq.Load() &^ 1)        // the stray write: SLEEPERS cleared
	flag.Store(1)
	if ec.Notify() {
		t.Fatal("Notify made a system call although SLEEPERS was clear")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lost Notify stranded the waiter (its sleep is not bounded)")
	}
}
