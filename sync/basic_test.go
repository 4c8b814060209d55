package sync_test

import (
	"context"
	"errors"
	gosync "sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
	fsync "github.com/forkless-go/forkless/sync"
)

func TestMutexBasics(t *testing.T) {
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	if m.Locked() {
		t.Fatal("new mutex locked")
	}
	if err := m.Lock(); err != nil {
		t.Fatal(err)
	}
	if !m.Locked() || m.TryLock() {
		t.Fatal("locked mutex: Locked false or TryLock true")
	}
	m.Unlock()
	if !m.TryLock() {
		t.Fatal("TryLock of a free mutex failed")
	}
	m.Unlock()
	mustPanic(t, "Unlock of unlocked Mutex", m.Unlock)

	// The same mutex through its handle.
	m2 := must[*fsync.Mutex](t)(fsync.OpenMutex(m.Handle()))
	if err := m2.Lock(); err != nil {
		t.Fatal(err)
	}
	if m.TryLock() {
		t.Fatal("mutex locked through one view is free through another")
	}
	m.Unlock() // the holder is the process: any view may unlock
}

func TestNoSyscallWhenNobodyWaits(t *testing.T) {
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	rl := must[*fsync.RLock](t)(fsync.NewRLock(r))
	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	s := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 1))
	bs := must[*fsync.BoundedSemaphore](t)(fsync.NewBoundedSemaphore(r, 2))
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	wg := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 1))

	before := futex.Syscalls()
	for range 1000 {
		m.Lock()
		m.Unlock()
		rl.Lock()
		rl.Lock()
		rl.Unlock()
		rl.Unlock()
		rw.Lock()
		rw.Unlock()
		rw.RLock()
		rw.RUnlock()
		s.Acquire()
		s.Release()
		bs.Acquire()
		bs.Release()
		e.Set()
		e.Wait()
		e.Clear()
		c.L.Lock()
		c.Signal()
		c.Broadcast()
		c.L.Unlock()
		wg.Add(2)
		wg.Done()
		wg.Done()
		wg.Wait()
		if _, err := b.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if n := futex.Syscalls() - before; n != 0 {
		t.Fatalf("%d futex system calls with nobody waiting, want 0", n)
	}
}

func TestReleaseWakesSleeper(t *testing.T) {
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	m.Lock()
	got := make(chan error)
	go func() { got <- m.Lock() }()
	time.Sleep(20 * time.Millisecond) // the waiter is asleep by now
	before := futex.Syscalls()
	m.Unlock()
	if futex.Syscalls() == before {
		t.Fatal("Unlock with a sleeping waiter made no wake-up call")
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	m.Unlock()
}

func TestCancelWakesWaiters(t *testing.T) {
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	rl := must[*fsync.RLock](t)(fsync.NewRLock(r))
	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	s := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 0))
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	wg := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	m.Lock()
	rw.RLock()
	wg.Add(1)

	// RLock is held by this process, so its waiter must be another
	// process; RWMutex writers queue behind the read lock.
	calls := map[string]func(ctx context.Context) error{
		"Mutex.LockContext":     m.LockContext,
		"RWMutex.LockContext":   rw.LockContext,
		"Semaphore.Acquire":     s.AcquireContext,
		"Event.WaitContext":     e.WaitContext,
		"WaitGroup.WaitContext": wg.WaitContext,
		"Cond.WaitContext": func(ctx context.Context) error {
			c.L.Lock()
			defer c.L.Unlock()
			return c.WaitContext(ctx)
		},
		"Barrier.WaitContext": func(ctx context.Context) error {
			_, err := b.WaitContext(ctx)
			if !errors.Is(err, fsync.ErrBroken) {
				t.Errorf("barrier cancel: %v does not wrap ErrBroken", err)
			}
			return err
		},
	}
	_ = rl
	for name, call := range calls {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		time.Sleep(30 * time.Millisecond) // asleep in the kernel by now
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			d := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s after cancel = %v, want context.Canceled", name, err)
			}
			t.Logf("%s returned %v after cancel", name, d)
			if d > 100*time.Millisecond {
				t.Errorf("%s took %v to notice cancellation", name, d)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not return after cancel", name)
		}
	}
	m.Unlock()
	rw.RUnlock()
	wg.Done()
	// Everything still works after the cancelled waits.
	if err := m.Lock(); err != nil {
		t.Fatal(err)
	}
	m.Unlock()
	if err := rw.Lock(); err != nil {
		t.Fatal(err)
	}
	rw.Unlock()
	b.Reset()
	if b.Broken() {
		t.Fatal("barrier broken after Reset")
	}
}

func TestBadInput(t *testing.T) {
	r := region(t)
	if _, err := fsync.NewSemaphore(r, -1); !errors.Is(err, fsync.ErrInvalid) {
		t.Errorf("NewSemaphore(-1) = %v, want ErrInvalid", err)
	}
	if _, err := fsync.NewBoundedSemaphore(r, 0); !errors.Is(err, fsync.ErrInvalid) {
		t.Errorf("NewBoundedSemaphore(0) = %v, want ErrInvalid", err)
	}
	if _, err := fsync.NewBarrier(r, 0); !errors.Is(err, fsync.ErrInvalid) {
		t.Errorf("NewBarrier(0) = %v, want ErrInvalid", err)
	}
	if m, err := fsync.NewMutex(nil); err != nil || m.Lock() != nil { // nil: a region of its own
		t.Errorf("NewMutex(nil) = %v", err)
	} else {
		m.Unlock()
	}
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	if _, err := fsync.OpenMutex(e.Handle()); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenMutex(event handle) = %v, want shm.ErrKind", err)
	}
	if _, err := fsync.OpenBoundedSemaphore(must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 1)).Handle()); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenBoundedSemaphore(semaphore handle) = %v, want shm.ErrKind", err)
	}
	if _, err := fsync.OpenEvent(shm.Handle{}); err == nil {
		t.Error("OpenEvent(zero handle) succeeded")
	}

	bs := must[*fsync.BoundedSemaphore](t)(fsync.NewBoundedSemaphore(r, 1))
	if err := bs.Release(); !errors.Is(err, fsync.ErrReleased) {
		t.Errorf("Release past the bound = %v, want ErrReleased", err)
	}
	if bs.Value() != 1 {
		t.Errorf("failed Release changed the value to %d", bs.Value())
	}

	rl := must[*fsync.RLock](t)(fsync.NewRLock(r))
	mustPanic(t, "Unlock of unlocked RLock", rl.Unlock)
	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	mustPanic(t, "Unlock of unlocked RWMutex", rw.Unlock)
	mustPanic(t, "RUnlock of unlocked RWMutex", rw.RUnlock)
	wg := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	mustPanic(t, "negative WaitGroup", func() { wg.Add(-1) })
	if wg.Count() != 0 {
		t.Errorf("panicking Add left count %d", wg.Count())
	}
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	mustPanic(t, "Cond.Wait without its Mutex", func() { c.Wait() })

	// Placement inside another block.
	blk, err := r.Alloc(shm.Layout{Kind: 0x8001, Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsync.MutexAt(blk, 4); !errors.Is(err, fsync.ErrInvalid) {
		t.Errorf("MutexAt(misaligned) = %v, want ErrInvalid", err)
	}
	if _, err := fsync.MutexAt(blk, 64); !errors.Is(err, fsync.ErrInvalid) {
		t.Errorf("MutexAt(past the end) = %v, want ErrInvalid", err)
	}
	if _, err := fsync.BarrierAt(blk, 0, 2); !errors.Is(err, fsync.ErrInvalid) {
		t.Errorf("BarrierAt(too small a block) = %v, want ErrInvalid", err)
	}
	ma := must[*fsync.Mutex](t)(fsync.MutexAt(blk, 8))
	mb := must[*fsync.Mutex](t)(fsync.MutexAt(blk, 8))
	ma.Lock()
	if mb.TryLock() {
		t.Fatal("two placements at one offset are not one mutex")
	}
	ma.Unlock()
	if !ma.Handle().IsZero() {
		t.Error("a placed mutex has a handle")
	}
	s1 := must[*fsync.Semaphore](t)(fsync.SemaphoreAt(blk, 16, 3, true))
	if _, err := fsync.SemaphoreAt(blk, 16, 3, false); !errors.Is(err, fsync.ErrInvalid) {
		t.Errorf("SemaphoreAt with another bound = %v, want ErrInvalid", err)
	}
	if s1.Value() != 3 {
		t.Errorf("placed semaphore value %d, want 3", s1.Value())
	}
	s2 := must[*fsync.Semaphore](t)(fsync.SemaphoreAt(blk, 16, 3, true))
	if s2.Value() != 3 {
		t.Errorf("second placement changed the value to %d", s2.Value())
	}
}

func TestUseAfterClose(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	s := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 1))
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	h := m.Handle()
	r.Close()
	if err := m.Lock(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Lock after Close = %v, want shm.ErrClosed", err)
	}
	if m.TryLock() || m.Locked() {
		t.Error("TryLock or Locked true after Close")
	}
	mustPanic(t, "Unlock after Close", m.Unlock)
	mustPanic(t, "Set after Close", e.Set)
	if err := e.Wait(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Event.Wait after Close = %v", err)
	}
	if err := s.Release(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Release after Close = %v", err)
	}
	if _, err := b.Wait(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Barrier.Wait after Close = %v", err)
	}
	if _, err := fsync.OpenMutex(h); !errors.Is(err, shm.ErrNotAttached) {
		t.Errorf("OpenMutex after Close = %v, want shm.ErrNotAttached", err)
	}
}

func TestRLockReentry(t *testing.T) {
	r := region(t)
	l := must[*fsync.RLock](t)(fsync.NewRLock(r))
	for i := 1; i <= 3; i++ {
		if err := l.Lock(); err != nil {
			t.Fatal(err)
		}
		if l.Depth() != i {
			t.Fatalf("depth %d, want %d", l.Depth(), i)
		}
	}
	if !l.TryLock() || l.Depth() != 4 {
		t.Fatal("TryLock by the holder did not re-enter")
	}
	for range 4 {
		l.Unlock()
	}
	if l.Depth() != 0 {
		t.Fatalf("depth %d after all unlocks", l.Depth())
	}
	mustPanic(t, "extra RLock.Unlock", l.Unlock)
}

func TestSemaphoreCounts(t *testing.T) {
	r := region(t)
	s := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 2))
	if !s.TryAcquire() || !s.TryAcquire() || s.TryAcquire() {
		t.Fatal("semaphore of 2 admitted other than 2")
	}
	done := make(chan error)
	go func() { done <- s.Acquire() }()
	time.Sleep(10 * time.Millisecond)
	s.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Value() != 0 {
		t.Fatalf("value %d, want 0", s.Value())
	}
}

func TestEventPulseWakes(t *testing.T) {
	r := region(t)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	done := make(chan error)
	go func() { done <- e.Wait() }()
	time.Sleep(20 * time.Millisecond)
	e.Set()
	e.Clear() // a waiter woken by the Set returns even though it was cleared
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Set then Clear did not release the waiter")
	}
	if e.IsSet() {
		t.Fatal("IsSet after Clear")
	}
}

func TestBarrierInProcess(t *testing.T) {
	r := region(t)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 3))
	var ran int
	b.SetAction(func() error { ran++; return nil })
	idx := make(chan int, 3)
	for range 3 {
		go func() {
			i, err := b.Wait()
			if err != nil {
				t.Error(err)
			}
			idx <- i
		}()
	}
	seen := map[int]bool{}
	for range 3 {
		seen[<-idx] = true
	}
	if len(seen) != 3 || !seen[0] || !seen[1] || !seen[2] {
		t.Fatalf("arrival indexes %v, want 0, 1, 2", seen)
	}
	if ran != 1 {
		t.Fatalf("action ran %d times", ran)
	}

	// Abort breaks waiters; Reset mends it.
	helper := make(chan struct{})
	go func() {
		defer close(helper)
		time.Sleep(20 * time.Millisecond)
		if b.Waiting() != 1 {
			t.Errorf("Waiting = %d, want 1", b.Waiting())
		}
		b.Abort()
	}()
	if _, err := b.Wait(); !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("Wait through Abort = %v, want ErrBroken", err)
	}
	<-helper
	if !b.Broken() {
		t.Fatal("not Broken after Abort")
	}
	b.Reset()
	helper = make(chan struct{})
	go func() {
		defer close(helper)
		time.Sleep(20 * time.Millisecond)
		b.Reset()
	}()
	if _, err := b.Wait(); !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("Wait through Reset = %v, want ErrBroken", err)
	}
	<-helper
	if b.Broken() {
		t.Fatal("Broken after Reset")
	}
	// A failing action breaks the barrier.
	b2 := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 1))
	boom := errors.New("boom")
	b2.SetAction(func() error { return boom })
	if _, err := b2.Wait(); !errors.Is(err, boom) || !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("Wait with failing action = %v", err)
	}
	if !b2.Broken() {
		t.Fatal("failing action did not break the barrier")
	}
}

func TestWaitGroupInProcess(t *testing.T) {
	r := region(t)
	wg := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	wg.Add(3)
	var helpers gosync.WaitGroup
	for range 3 {
		helpers.Go(func() {
			time.Sleep(5 * time.Millisecond)
			wg.Done()
		})
	}
	if err := wg.Wait(); err != nil {
		t.Fatal(err)
	}
	helpers.Wait()
	if wg.Count() != 0 {
		t.Fatal("count not zero after Wait")
	}
}
