package futex

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitReturnsWhenValueDiffers(t *testing.T) {
	var w atomic.Uint32
	w.Store(1)
	if err := Wait(&w, 0, time.Second); err != nil {
		t.Fatalf("Wait with a stale value = %v, want nil at once", err)
	}
}

func TestWaitTimesOut(t *testing.T) {
	var w atomic.Uint32
	start := time.Now()
	if err := Wait(&w, 0, 5*time.Millisecond); err != ErrTimeout {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 5*time.Millisecond {
		t.Fatalf("Wait returned after %v, before its timeout", d)
	}
}

func TestWakeWakesWaiter(t *testing.T) {
	var w atomic.Uint32
	done := make(chan error, 1)
	go func() {
		for w.Load() == 0 {
			if err := Wait(&w, 0, -1); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(10 * time.Millisecond)
	w.Store(1)
	before := Syscalls()
	if _, err := Wake(&w, 1); err != nil {
		t.Fatal(err)
	}
	if Syscalls() != before+1 {
		t.Fatalf("Syscalls did not count the wake")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter was not woken")
	}
}

func TestWaitContextCancelWakes(t *testing.T) {
	var w atomic.Uint32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- WaitContext(ctx, &w, 0, -1) }()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("WaitContext = %v, want context.Canceled", err)
		}
		t.Logf("woken %v after cancel", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not wake the waiter")
	}
}

func TestWaitContextDone(t *testing.T) {
	var w atomic.Uint32
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitContext(ctx, &w, 0, -1); err != context.Canceled {
		t.Fatalf("WaitContext(done ctx) = %v", err)
	}
}
