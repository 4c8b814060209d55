package conformance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

type condArg struct {
	Cond, Sleeping, Woken shm.Handle
}

var (
	// condWaiter counts itself sleeping, waits on the Cond once, counts
	// itself woken.
	condWaiter = spawn.Register("conformance.condWaiter", func(ctx context.Context, a condArg) (struct{}, error) {
		c, err := fsync.OpenCond(a.Cond)
		if err != nil {
			return struct{}{}, err
		}
		sleeping, _ := fsync.OpenSemaphore(a.Sleeping)
		woken, _ := fsync.OpenSemaphore(a.Woken)
		if err := c.L.Lock(); err != nil {
			return struct{}{}, err
		}
		sleeping.Release()
		err = c.WaitContext(ctx)
		c.L.Unlock()
		woken.Release()
		return struct{}{}, err
	})
	lockHolder = spawn.Register("conformance.lockHolder", func(ctx context.Context, h shm.Handle) (bool, error) {
		mu, err := fsync.OpenMutex(h)
		if err != nil {
			return false, err
		}
		return mu.TryLock(), nil
	})
	barrierParty = spawn.Register("conformance.barrierParty", func(ctx context.Context, h shm.Handle) (int, error) {
		b, err := fsync.OpenBarrier(h)
		if err != nil {
			return 0, err
		}
		return b.WaitContext(ctx)
	})
	eventWaiter = spawn.Register("conformance.eventWaiter", func(ctx context.Context, h shm.Handle) (bool, error) {
		e, err := fsync.OpenEvent(h)
		if err != nil {
			return false, err
		}
		return e.IsSet(), e.WaitContext(ctx)
	})
)

// TestLock_lock mirrors _TestLock.test_lock: acquire, non-blocking
// acquire fails (also in another process), release; releasing an unheld
// lock is an error (a panic here, as Go's sync.Mutex).
func TestLock_lock(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	mu := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	if !mu.TryLock() {
		t.Fatal("TryLock of a free lock")
	}
	if mu.TryLock() {
		t.Fatal("TryLock of a held lock")
	}
	if got, err := lockHolder.Run(ctx, mu.Handle(), spawn.Share(r)); got || err != nil {
		t.Fatalf("another process took a held lock: %v, %v", got, err)
	}
	mu.Unlock()
	defer func() {
		if recover() == nil {
			t.Fatal("Unlock of a free lock did not panic (Python: ValueError)")
		}
	}()
	mu.Unlock()
}

func TestLock_rlock(t *testing.T) {
	r := region(t, 1<<20)
	l := must[*fsync.RLock](t)(fsync.NewRLock(r))
	for range 3 {
		if err := l.Lock(); err != nil {
			t.Fatal(err)
		}
	}
	if l.Depth() != 3 {
		t.Fatalf("depth %d", l.Depth())
	}
	for range 3 {
		l.Unlock()
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Unlock of a free RLock did not panic (Python: AssertionError/RuntimeError)")
		}
	}()
	l.Unlock()
}

func TestLock_lock_context(t *testing.T) {
	r := region(t, 1<<20)
	mu := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	func() { // Python: with lock: ...
		if err := mu.Lock(); err != nil {
			t.Fatal(err)
		}
		defer mu.Unlock()
	}()
	if !mu.TryLock() {
		t.Fatal("lock still held after the block")
	}
	mu.Unlock()
}

func TestSemaphore_semaphore(t *testing.T) {
	r := region(t, 1<<20)
	s := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 2))
	if s.Value() != 2 || !s.TryAcquire() || !s.TryAcquire() || s.TryAcquire() || s.Value() != 0 {
		t.Fatalf("two acquires of a Semaphore(2): value %d", s.Value())
	}
	s.Release()
	s.Release()
	s.Release() // an unbounded semaphore goes past its start
	if s.Value() != 3 {
		t.Fatalf("value %d after three releases", s.Value())
	}
}

func TestSemaphore_bounded_semaphore(t *testing.T) {
	r := region(t, 1<<20)
	s := must[*fsync.BoundedSemaphore](t)(fsync.NewBoundedSemaphore(r, 2))
	s.TryAcquire()
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(); err == nil {
		t.Fatal("releasing past the bound succeeded (Python: ValueError)")
	}
}

func TestSemaphore_timeout(t *testing.T) {
	r := region(t, 1<<20)
	s := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 0))
	for _, d := range []time.Duration{0, 10 * time.Millisecond, 100 * time.Millisecond} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		err := s.AcquireContext(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < d {
			t.Fatalf("Acquire(timeout %v) = %v after %v", d, err, time.Since(start))
		}
	}
}

// condSetup starts n waiters and returns once all sleep in Wait.
func condSetup(t *testing.T, ctx context.Context, n int) (*fsync.Cond, *fsync.Semaphore, []*spawn.Process[struct{}]) {
	r := region(t, 1<<20)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	sleeping := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 0))
	woken := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 0))
	var ps []*spawn.Process[struct{}]
	for range n {
		ps = append(ps, must[*spawn.Process[struct{}]](t)(condWaiter.Start(ctx, condArg{c.Handle(), sleeping.Handle(), woken.Handle()}, spawn.Share(r))))
	}
	for range n {
		sleeping.AcquireContext(ctx)
	}
	// Each released "sleeping" under c.L, before Wait unlocked it: taking
	// c.L once more is after every one of them entered Wait.
	c.L.Lock()
	c.L.Unlock()
	return c, woken, ps
}

// wokenCount waits until at least want waiters reported, then checks that
// no more than want did within a short window.
func wokenCount(t *testing.T, ctx context.Context, woken *fsync.Semaphore, want int) {
	t.Helper()
	for range want {
		if err := woken.AcquireContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := woken.AcquireContext(short); err == nil {
		t.Fatalf("more than %d waiters woke", want)
	}
}

func TestCondition_notify(t *testing.T) {
	ctx := tctx(t)
	c, woken, ps := condSetup(t, ctx, 3)
	for i := range 3 {
		c.L.Lock()
		c.Signal()
		c.L.Unlock()
		wokenCount(t, ctx, woken, 1)
		_ = i
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCondition_notify_all(t *testing.T) {
	ctx := tctx(t)
	c, woken, ps := condSetup(t, ctx, 4)
	c.L.Lock()
	c.Broadcast()
	c.L.Unlock()
	wokenCount(t, ctx, woken, 4)
	for _, p := range ps {
		p.Wait(ctx)
	}
}

func TestCondition_notify_n(t *testing.T) {
	ctx := tctx(t)
	c, woken, ps := condSetup(t, ctx, 6)
	for _, n := range []int{2, 3, 1} {
		c.L.Lock()
		c.Notify(n)
		c.L.Unlock()
		wokenCount(t, ctx, woken, n)
	}
	for _, p := range ps {
		p.Wait(ctx)
	}
}

func TestCondition_timeout(t *testing.T) {
	r := region(t, 1<<20)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	c.L.Lock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.WaitContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("Wait(timeout) = %v after %v", err, time.Since(start))
	}
	if !c.L.Locked() {
		t.Fatal("Wait(timeout) returned without the lock")
	}
	c.L.Unlock()
}

func TestCondition_waitfor(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	state := must[*shm.Value[int64]](t)(shm.NewValue[int64](r))
	done := make(chan error, 1)
	go func() {
		c.L.Lock()
		err := c.WaitFor(ctx, func() bool { v, _ := state.Load(); return v == 4 })
		c.L.Unlock() // before the send: the test closes the region once it has the result
		done <- err
	}()
	for i := int64(1); i <= 4; i++ {
		c.L.Lock()
		state.Store(i)
		c.Broadcast()
		c.L.Unlock()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCondition_waitfor_timeout(t *testing.T) {
	r := region(t, 1<<20)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	c.L.Lock()
	defer c.L.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.WaitFor(ctx, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor(timeout) of a false predicate = %v", err)
	}
}

// TestCondition_wait_result: a notified Wait returns nil, a timed-out one
// the context's error (Python: True / False).
func TestCondition_wait_result(t *testing.T) {
	ctx := tctx(t)
	c, woken, ps := condSetup(t, ctx, 1)
	c.L.Lock()
	c.Signal()
	c.L.Unlock()
	wokenCount(t, ctx, woken, 1)
	if _, err := ps[0].Wait(ctx); err != nil {
		t.Fatalf("notified Wait = %v, want nil", err)
	}
}

func TestEvent_event(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	if e.IsSet() {
		t.Fatal("set at birth")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := e.WaitContext(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait(timeout) on a clear event = %v", err)
	}
	p := must[*spawn.Process[bool]](t)(eventWaiter.Start(ctx, e.Handle(), spawn.Share(r)))
	e.Set()
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !e.IsSet() || e.WaitContext(ctx) != nil {
		t.Fatal("set event")
	}
	e.Clear()
	if e.IsSet() {
		t.Fatal("cleared event is set")
	}
}

// barrierN runs n parties (n-1 children and this process) through b.
func barrierN(t *testing.T, ctx context.Context, r *shm.Region, b *fsync.Barrier, children int) ([]int, error) {
	var ps []*spawn.Process[int]
	for range children {
		ps = append(ps, must[*spawn.Process[int]](t)(barrierParty.Start(ctx, b.Handle(), spawn.Share(r))))
	}
	var idx []int
	var first error
	if b.Parties() > children {
		i, err := b.WaitContext(ctx)
		idx, first = append(idx, i), err
	}
	for _, p := range ps {
		i, err := p.Wait(ctx)
		idx = append(idx, i)
		if first == nil {
			first = err
		}
	}
	return idx, first
}

// TestBarrier_barrier: 5 parties (4 children and this process) pass the
// barrier twice; it resets itself between passes.
func TestBarrier_barrier(t *testing.T) { barrierPasses(t, 5, 2) }

// TestBarrier_barrier_10: 3 parties pass it 10 times.
func TestBarrier_barrier_10(t *testing.T) { barrierPasses(t, 3, 10) }

func barrierPasses(t *testing.T, parties, passes int) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, parties))
	var ps []*spawn.Process[int]
	for range parties - 1 {
		ps = append(ps, must[*spawn.Process[int]](t)(barrierLoop.Start(ctx, barrierLoopArg{b.Handle(), passes}, spawn.Share(r))))
	}
	for range passes {
		if _, err := b.WaitContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ps {
		if n, err := p.Wait(ctx); n != passes || err != nil {
			t.Fatal(n, err)
		}
	}
	if b.Waiting() != 0 || b.Broken() {
		t.Fatalf("after: waiting %d broken %v", b.Waiting(), b.Broken())
	}
}

// TestBarrier_wait_return: exactly one party gets each index.
func TestBarrier_wait_return(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 3))
	idx, err := barrierN(t, ctx, r, b, 2)
	sum := 0
	for _, i := range idx {
		sum += i
	}
	if err != nil || sum != 0+1+2 {
		t.Fatalf("indexes %v, %v", idx, err)
	}
}

func TestBarrier_action(t *testing.T) {
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 1))
	calls := 0
	b.SetAction(func() error { calls++; return nil })
	b.Wait()
	b.Wait()
	if calls != 2 {
		t.Fatalf("action ran %d times", calls)
	}
	b.SetAction(func() error { return errors.New("action failed") })
	if _, err := b.Wait(); err == nil || !b.Broken() {
		t.Fatalf("failing action: %v, broken %v (Python: the barrier breaks)", err, b.Broken())
	}
}

func TestBarrier_abort(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 3))
	p := must[*spawn.Process[int]](t)(barrierParty.Start(ctx, b.Handle(), spawn.Share(r)))
	// Whether the child arrives before or after the abort, it is told
	// the barrier is broken.
	b.Abort()
	if _, err := p.Wait(ctx); !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("party of an aborted barrier = %v", err)
	}
	if _, err := b.WaitContext(ctx); !errors.Is(err, fsync.ErrBroken) || !b.Broken() {
		t.Fatalf("Wait on an aborted barrier = %v", err)
	}
}

func TestBarrier_reset(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	b.Abort()
	b.Reset()
	if b.Broken() {
		t.Fatal("broken after Reset")
	}
	if _, err := barrierN(t, ctx, r, b, 1); err != nil {
		t.Fatalf("barrier after Reset = %v", err)
	}
}

func TestBarrier_abort_and_reset(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 3))
	b.Abort()
	if _, err := barrierN(t, ctx, r, b, 2); !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("aborted: %v", err)
	}
	b.Reset()
	if _, err := barrierN(t, ctx, r, b, 2); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

func TestBarrier_timeout(t *testing.T) {
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.WaitContext(ctx); err == nil || !b.Broken() {
		t.Fatalf("Wait(timeout) alone = %v, broken %v", err, b.Broken())
	}
}

func TestBarrier_default_timeout(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	b.SetTimeout(100 * time.Millisecond)
	if b.Timeout() != 100*time.Millisecond {
		t.Fatalf("Timeout %v", b.Timeout())
	}
	// The child waits with no deadline of its own: the barrier's default
	// ends it.
	_, err := barrierParty.Run(ctx, b.Handle(), spawn.Share(r))
	if !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("default timeout in the child = %v", err)
	}
}

func TestBarrier_single_thread(t *testing.T) {
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 1))
	for range 10 {
		if i, err := b.Wait(); i != 0 || err != nil {
			t.Fatal(i, err)
		}
	}
}

func TestBarrier_thousand(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	p := must[*spawn.Process[int]](t)(barrierLoop.Start(ctx, barrierLoopArg{b.Handle(), 200}, spawn.Share(r)))
	for range 200 { // Python: 1000 passes by 5 processes (shortened)
		if _, err := b.WaitContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

type barrierLoopArg struct {
	B shm.Handle
	N int
}

var barrierLoop = spawn.Register("conformance.barrierLoop", func(ctx context.Context, a barrierLoopArg) (int, error) {
	b, err := fsync.OpenBarrier(a.B)
	if err != nil {
		return 0, err
	}
	for range a.N {
		if _, err := b.WaitContext(ctx); err != nil {
			return 0, err
		}
	}
	return a.N, nil
})
