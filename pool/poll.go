package pool

import (
	"context"
	"runtime"
	"time"

	"github.com/forkless-go/forkless/ring"
)

// The pool's two consumers, a worker waiting for tasks and the parent's
// collector waiting for a worker's results, poll their ring before they
// block in it, and yield the processor between rounds of checks.
//
// Why not leave the spin to the ring: ring waits (internal/event, with
// internal/spin's budget) spin first without yielding, for as long as the
// budget, then yield for as long again. In the parent that spin holds a P:
// with two collectors spinning on GOMAXPROCS=2, the goroutine that submits
// (and the one whose pump would feed the worker) waits for a collector's
// spin to end, and each worker, on the same two cores, spins twice as long.
// Moving the pool from package spawn to its own package (issue 11) came with
// that spin, and Submit lost a third of its throughput (docs/bench/pool.md).
// Yielding between rounds lets the other goroutines of the process run
// while a consumer waits; the ring's own spin, which then finds the ring
// still empty, shrinks its budget to nothing and goes to sleep at once.
//
// Since then internal/spin's first phase yields too (349d21b); the poll
// was checked again against the ring's wait alone (4 interleaved rounds,
// load 20-23): without it an Apply round trip sleeps in the futex more
// often (6 allocations instead of 5: a futex sleep allocates once) and one
// item per task costs 23% more CPU per item (805 -> 993 ns), so it stays.
//
// The poll's length adapts as the ring's used to: a poll that catches an
// item doubles it (plus pollGrow, so that 0 can grow), one that runs out
// halves it, between 0 (two rounds of checks and one yield) and pollMax.
const (
	pollChecks = 64                    // re-checks between yields
	pollMax    = 20 * time.Microsecond // longest poll
	pollGrow   = 500 * time.Nanosecond // added when a poll pays
)

// poller is one consumer's poll budget, in this process only. Its zero
// value starts at pollMax.
type poller struct {
	ns int64 // the budget in ns plus one; 0: pollMax
}

func (p *poller) budget() time.Duration {
	if p.ns > 0 {
		return time.Duration(p.ns - 1)
	}
	return pollMax
}

func (p *poller) set(d time.Duration) { p.ns = int64(min(max(d, 0), pollMax)) + 1 }

// popSome is r.PopSome after a poll of at most p's budget, yielding between
// rounds of checks.
func popSome[T any](ctx context.Context, p *poller, r *ring.SPSC[T], dst []T) (int, error) {
	if r.Len() == 0 && !r.Closed() {
		p.poll(func() bool { return r.Len() > 0 || r.Closed() })
	}
	return r.PopSome(ctx, dst)
}

// poll re-checks ready until it holds or the budget runs out.
func (p *poller) poll(ready func() bool) {
	budget := p.budget()
	var start time.Time
	for round := 0; ; round++ {
		for range pollChecks {
			if ready() {
				if budget < pollMax {
					p.set(2*budget + pollGrow)
				}
				return
			}
		}
		if round == 0 {
			start = time.Now()
		} else if time.Since(start) > budget {
			p.set(budget / 2)
			return
		}
		runtime.Gosched()
	}
}
