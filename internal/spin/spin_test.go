package spin

import (
	"testing"
	"time"
)

func TestZeroBudgetStartsAtDefaultMax(t *testing.T) {
	var b Budget
	if b.Len() != DefaultMax || b.Max() != DefaultMax {
		t.Fatalf("zero budget: len %v max %v, want %v", b.Len(), b.Max(), DefaultMax)
	}
	b.SetMax(64 * time.Microsecond)
	if b.Len() != 64*time.Microsecond {
		t.Fatalf("len %v after SetMax(64µs)", b.Len())
	}
	b.SetMax(0)
	if b.Max() != DefaultMax {
		t.Fatalf("SetMax(0): max %v, want DefaultMax", b.Max())
	}
}

// A spin that runs out halves the budget; one that catches the hand-off
// doubles it (plus grow), up to the ceiling.
func TestBudgetAdapts(t *testing.T) {
	var b Budget
	s := b.Start()
	for s.Again() {
	}
	if !s.Over() || b.Len() != DefaultMax/2 {
		t.Fatalf("after a spin that ran out: len %v, want %v", b.Len(), DefaultMax/2)
	}
	for range 20 {
		s := b.Start()
		for s.Again() {
		}
	}
	if b.Len() != 0 {
		t.Fatalf("after 20 lost spins: len %v, want 0", b.Len())
	}
	s = b.Start()
	s.Again()
	s.Caught()
	if b.Len() != grow {
		t.Fatalf("a caught spin from 0: len %v, want %v", b.Len(), grow)
	}
	for range 20 {
		s := b.Start()
		s.Again()
		s.Caught()
	}
	if b.Len() != DefaultMax {
		t.Fatalf("after 20 caught spins: len %v, want %v", b.Len(), DefaultMax)
	}
}

// A wait that never spun (its word was ready at once) teaches nothing.
func TestCaughtWithoutSpinKeepsBudget(t *testing.T) {
	var b Budget
	b.set(time.Microsecond)
	s := b.Start()
	s.Caught()
	if b.Len() != time.Microsecond {
		t.Fatalf("len %v, want 1µs", b.Len())
	}
}

// A spin lasts about its budget busy, then as long again yielding.
func TestSpinLength(t *testing.T) {
	var b Budget
	b.SetMax(2 * time.Millisecond)
	start := time.Now()
	s := b.Start()
	for s.Again() {
	}
	if d := time.Since(start); d < 4*time.Millisecond {
		t.Fatalf("a 2 ms budget spun %v, want at least 4 ms (spin + yield)", d)
	}
}
