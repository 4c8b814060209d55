package ring

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
)

// TestEventCountSpinAdapts: a spin that runs out halves this EventCount's
// budget (down to ecSpinMin), one that catches the condition doubles it
// (up to ecSpinMax), and copies of the EventCount share the budget.
func TestEventCountSpinAdapts(t *testing.T) {
	var seq, waiters atomic.Uint32
	e := NewEventCount(&seq, &waiters)
	if got := e.spin.get(); got != ecSpinMax {
		t.Fatalf("initial budget %v, want %v", got, ecSpinMax)
	}
	never := func() bool { return false }
	for i := 0; i < 20; i++ {
		if e.trySpin(never) {
			t.Fatal("spin reported a condition that never held")
		}
	}
	if got := e.spin.get(); got != ecSpinMin {
		t.Fatalf("budget after 20 empty spins %v, want %v", got, ecSpinMin)
	}
	// Caught spins: the condition turns true on the second look, after a
	// failed first check, as when the peer answers during the spin.
	c := e // a copy shares the budget
	for i := 0; i < 20; i++ {
		n := 0
		if !c.trySpin(func() bool { n++; return n > 1 }) {
			t.Fatal("spin missed a condition that held")
		}
	}
	if got := e.spin.get(); got != ecSpinMax {
		t.Fatalf("budget after 20 caught spins %v, want %v", got, ecSpinMax)
	}
	// A wait that ends in a sleep halves it, and the hand-off still works.
	var flag atomic.Bool
	go func() {
		time.Sleep(50 * time.Millisecond)
		flag.Store(true)
		e.Notify()
	}()
	before := futex.Syscalls()
	if err := e.Wait(context.Background(), flag.Load); err != nil {
		t.Fatal(err)
	}
	if got := e.spin.get(); got != ecSpinMax/2 {
		t.Fatalf("budget after a sleep %v, want %v", got, ecSpinMax/2)
	}
	if futex.Syscalls() == before {
		t.Fatal("a 50 ms wait never slept")
	}
}
