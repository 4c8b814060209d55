package spin

import (
	"runtime"
	"sync/atomic"
	"time"
)

const (
	// DefaultMax is the ceiling of a zero Budget: long enough to catch a
	// hand-off from a process running on another core, short enough that a
	// spin which ends in a sleep anyway costs little.
	DefaultMax = 20 * time.Microsecond
	// grow is added when a spin pays, so that a budget of 0 can grow.
	grow = 500 * time.Nanosecond
	// checkEvery is how many re-checks a spin makes between looks at the
	// clock: time.Now costs about as much as a few dozen loads.
	checkEvery = 32
)

// Budget is one primitive's spin length in this process. The zero value is
// ready to use: it starts at its ceiling, DefaultMax unless SetMax changed
// it. A Budget must not be copied after first use; share it by pointer
// between the copies of a primitive's view.
type Budget struct {
	ns  atomic.Int64 // the current length in ns plus one; 0: the ceiling
	top atomic.Int64 // the ceiling in ns; 0: DefaultMax
}

// Max returns the budget's ceiling.
func (b *Budget) Max() time.Duration {
	if t := b.top.Load(); t > 0 {
		return time.Duration(t)
	}
	return DefaultMax
}

// SetMax sets the budget's ceiling (d <= 0: DefaultMax). A conversation's
// receiving side, where the answer usually comes within tens of
// microseconds, may want a higher one.
func (b *Budget) SetMax(d time.Duration) { b.top.Store(int64(max(d, 0))) }

// Len returns the spin length the next wait starts with.
func (b *Budget) Len() time.Duration {
	if v := b.ns.Load(); v > 0 {
		return min(time.Duration(v-1), b.Max())
	}
	return b.Max()
}

func (b *Budget) set(d time.Duration) {
	b.ns.Store(int64(min(max(d, 0), b.Max())) + 1)
}

// Start begins one wait's spin, with the budget's current length.
func (b *Budget) Start() Spin { return Spin{b: b, budget: b.Len()} }

// Spin is one wait's spin phase. Call Again before each re-check of the
// word; when it returns false, the spin is over and the caller sleeps.
// Call Caught when the wait ends without sleeping.
type Spin struct {
	b      *Budget
	budget time.Duration // this wait's length, read at its start
	spins  int
	start  time.Time // of the spin, read after the first checkEvery re-checks
	done   bool      // the spin is over: sleep
}

// Again reports whether the caller should re-check its word at once. For
// the first Len of the spin it does so at once, for as long again after
// yielding the thread, then it reports false for good and halves the
// budget: this wait's spin did not pay.
func (s *Spin) Again() bool {
	if s.done {
		return false
	}
	s.spins++
	if s.spins%checkEvery != 0 {
		return true
	}
	if s.start.IsZero() {
		s.start = time.Now()
		return true
	}
	switch el := time.Since(s.start); {
	case el < s.budget:
		return true
	case el < 2*s.budget:
		runtime.Gosched()
		return true
	}
	s.done = true
	s.b.set(s.budget / 2)
	return false
}

// Over reports whether the spin has ended (Again returned false).
func (s *Spin) Over() bool { return s.done }

// Caught is called when the wait ended without sleeping: if it spun, the
// spin paid, and the budget grows (doubles, plus a little, up to its
// ceiling).
func (s *Spin) Caught() {
	if s.spins > 0 && !s.done && s.budget < s.b.Max() {
		s.b.set(2*s.budget + grow)
	}
}
