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
	// yieldEvery is how many re-checks the first phase makes between
	// yields to this process's other goroutines, so that a spinner never
	// holds a P that the goroutine which would end its wait needs.
	// runtime.Gosched costs a few dozen ns when none is runnable and every
	// P is busy; in a process with an idle P it also wakes a thread to look
	// for work, which finds none and sleeps again: two futex calls. (A
	// pool worker's poll without its yields measured 7% slower all the
	// same: docs/bench/pool.md.)
	yieldEvery = 4 * checkEvery
	// probeEvery: of the waits that follow a wake-up of a sleeper (Woke),
	// one in probeEvery spins anyway, so that a conversation that fell
	// into sleeping hand-offs finds out when spinning pays again.
	probeEvery = 8
	// yieldCPUAfter is how long a lock waiter's spin (StartLock) runs
	// before each round of re-checks also gives up the thread's CPU: a
	// lock is held for well under a microsecond unless its holder lost
	// its CPU, and on a machine with more runnable threads than cores the
	// thread that needs this CPU (the holder, or the consumer the holders
	// feed) is then often waiting for it.
	yieldCPUAfter = time.Microsecond
)

// woke is set by Woke and cleared by the next Start in this process.
var (
	woke   atomic.Uint32
	probes atomic.Uint32
)

// Woke tells the policy that this process has just woken a sleeping waiter
// in another process or goroutine (a futex wake that found one). The next
// wait in this process that starts with StartWait then skips its spin and
// sleeps at once (except one in probeEvery): the woken side needs a CPU to run on, and on a machine
// with more runnable threads than cores it is often this one, which a
// spinning waker would hold for its whole budget. A kernel pipe does the
// same (the writer's wake-up is a "sync" one: the writer is about to sleep).
func Woke() {
	if woke.Load() == 0 {
		woke.Store(1)
	}
}

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

// StartWait is Start for a wait on the other side of a conversation or a
// ring (internal/event's waits): it begins an empty spin (Again reports
// false at once, and the budget is left as it is) when this process has
// just woken a sleeper (Woke). Locks use Start: a lock's holder is not
// the side this process just woke.
func (b *Budget) StartWait() Spin {
	if woke.Load() != 0 && woke.Swap(0) != 0 && probes.Add(1)%probeEvery != 0 {
		return Spin{b: b, done: true}
	}
	return b.Start()
}

// StartLock is Start for a lock's waiter: past yieldCPUAfter, each round
// of re-checks (every checkEvery) also gives the thread's CPU to another
// runnable thread, if this CPU has one (sched_yield; it returns at once
// when none is waiting). Several producers of one queue on two cores,
// with their consumer: their claim lock's waiters spun on the CPU the
// consumer and the holder were waiting for (the consumer got about 0.65
// of a CPU, the spinners 0.28 of one). With the yields, 4 producers to 1
// consumer: +22-58% (docs/bench/queue.md); one producer never waits.
func (b *Budget) StartLock() Spin {
	s := b.Start()
	s.yieldCPU = true
	return s
}

// Spin is one wait's spin phase. Call Again before each re-check of the
// word; when it returns false, the spin is over and the caller sleeps.
// Call Caught when the wait ends without sleeping.
type Spin struct {
	b      *Budget
	budget time.Duration // this wait's length, read at its start
	spins  int
	start  time.Time // of the spin, read after the first checkEvery re-checks
	done   bool      // the spin is over: sleep
	// yieldCPU: a lock's spin (StartLock), which also yields the CPU.
	yieldCPU bool
}

// Again reports whether the caller should re-check its word at once. For
// the first Len of the spin it does so at once (yielding to this process's
// other goroutines every yieldEvery re-checks; a lock's spin also yields
// the CPU every checkEvery past its first microsecond), for as long again
// after yielding each time, then it reports false for good and halves the
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
		if s.yieldCPU && el >= yieldCPUAfter {
			osYield()
		}
		if s.spins%yieldEvery == 0 {
			runtime.Gosched()
		}
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
// ceiling), however late in the spin the catch came.
//
// A rule that left the budget alone on a catch past half of it (the other
// side slow to answer, as on a loaded machine) was tried and dropped: on a
// quiet machine a conversation's budget then never grew back after a few
// misses, and an Event round trip fell into sleeping hand-offs for good
// (sync's EventPingPong, count 8 interleaved, load 3: mean 16.6 µs with the
// rule, 5.4 µs without, p=0.028; p50 13.4 µs against 0.61 µs). Without it
// the loaded round trip was no worse (p50 16.9 µs against 20.5 µs with it,
// count 5, the same run's os.Pipe 24.6 µs).
func (s *Spin) Caught() {
	if s.spins > 0 && !s.done && s.budget < s.b.Max() {
		s.b.set(2*s.budget + grow)
	}
}
