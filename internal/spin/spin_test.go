package spin

import (
	"runtime"
	"sync/atomic"
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

// After Woke, the next wait of this process sleeps at once (its spin is
// empty and teaches the budget nothing), except one in probeEvery; the
// wait after it spins again.
func TestWokeSkipsTheNextSpin(t *testing.T) {
	var b Budget
	woke.Store(0)
	skipped := 0
	for range probeEvery {
		Woke()
		s := b.StartWait()
		if !s.Again() {
			skipped++
			if !s.Over() || b.Len() != DefaultMax {
				t.Fatalf("a skipped spin: over %v, budget %v, want over and %v", s.Over(), b.Len(), DefaultMax)
			}
			s.Caught()
			if b.Len() != DefaultMax {
				t.Fatalf("Caught after a skipped spin changed the budget to %v", b.Len())
			}
		}
		s = b.StartWait()
		if !s.Again() {
			t.Fatal("the wait after a skipped one did not spin")
		}
	}
	Woke()
	if s := b.Start(); !s.Again() {
		t.Fatal("Start (a lock's spin) skipped its spin after Woke")
	}
	woke.Store(0)
	if skipped != probeEvery-1 {
		t.Fatalf("%d of %d waits after Woke skipped their spin, want %d", skipped, probeEvery, probeEvery-1)
	}
}

// Every catch grows the budget, a late one too (see Caught for the rule
// that was dropped); so does an early one.
func TestLateCatchGrowsBudget(t *testing.T) {
	var b Budget
	b.SetMax(time.Second)
	b.set(200 * time.Microsecond)
	s := b.Start()
	start := time.Now()
	for s.Again() && time.Since(start) < 150*time.Microsecond {
	}
	s.Caught()
	if want := 400*time.Microsecond + grow; b.Len() != want {
		t.Fatalf("late catch: budget %v, want %v (see Caught: a quiet conversation needs it)", b.Len(), want)
	}
	b.set(200 * time.Microsecond)
	s = b.Start()
	s.Again()
	s.Caught()
	if want := 400*time.Microsecond + grow; b.Len() != want {
		t.Fatalf("early catch: budget %v, want %v", b.Len(), want)
	}
}

// The first phase yields to this process's other goroutines: with one P, a
// goroutine that would end the wait runs within yieldEvery re-checks, not
// at the end of the budget (the pool's collectors once starved the
// goroutine that fed them).
func TestFirstPhaseYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var b Budget
	b.SetMax(time.Second)
	var flag atomic.Bool
	go flag.Store(true)
	s := b.Start()
	n := 0
	for s.Again() && !flag.Load() {
		n++
	}
	if !flag.Load() || n > 2*yieldEvery {
		t.Fatalf("the other goroutine ran after %d re-checks (flag %v), want within %d", n, flag.Load(), 2*yieldEvery)
	}
}

// A lock's spin gives up the CPU (osYield) every checkEvery re-checks once
// it has run yieldCPUAfter; an event wait's spin never does.
func TestLockSpinYieldsTheCPU(t *testing.T) {
	var yields atomic.Int64
	defer func(f func()) { osYield = f }(osYield)
	osYield = func() { yields.Add(1) }
	spinFor := func(s Spin) {
		start := time.Now()
		for time.Since(start) < 50*yieldCPUAfter && s.Again() {
		}
	}
	var b Budget
	b.SetMax(time.Second)
	spinFor(b.StartWait())
	spinFor(b.Start())
	if n := yields.Load(); n != 0 {
		t.Fatalf("Start and StartWait spins yielded the CPU %d times, want 0", n)
	}
	spinFor(b.StartLock())
	if yields.Load() == 0 {
		t.Fatalf("a lock's spin of %v never yielded the CPU", 50*yieldCPUAfter)
	}
}
