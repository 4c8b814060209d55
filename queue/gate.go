package queue

import (
	"context"
	"sync/atomic"
)

// gate lets the goroutines of this process that wait for a message on one
// ring view take turns, once it has seen two of them at once: one at a
// time runs take (its tryTake, spin and sleep on the ring's shared words);
// the others wait in the Go scheduler, where a wait costs neither a CPU
// nor a cache line of the ring.
//
// Why: the consumers race for the head with CASes on shared lines, and a
// consumer that finds the ring empty spins, then sleeps on notEmpty, whose
// wake-up is a broadcast a producer pays for. Two goroutines of one
// process doing that (BenchmarkStream's two consumers) were two threads
// spinning and racing on lines a producer process needed, on a machine
// with fewer cores than runnable threads; the producer then woke them by
// system call hundreds of times a second. Behind a gate the second
// goroutine waits for its turn instead (1 producer, 2 consumer goroutines:
// +58%; docs/bench/queue.md).
//
// Why only once it is needed: passing the gate costs two locked
// instructions per take (+16% on a Put and Get in one goroutine), which a
// view with one consuming goroutine gains nothing for. A view starts
// open (on clear: one atomic load per take) and turns the gate on for
// good when it sees contention in this process: two of its goroutines
// waiting at once (take), or a take CAS lost to a goroutine of this
// process (tryTake).
//
// The gate is not a part of the ring's protocol, which stays safe for any
// number of concurrent takers (TryGet and other views do not pass it, nor
// does a take that began before the gate was turned on, until its wait
// sends it there); it only keeps this process's waiters off the shared
// words.
//
// It is a mutex whose waits can be cancelled, built like sync.Mutex
// without its spinning and starvation mode. A goroutine that comes back
// for the next message while the gate is free takes it again at once
// (barging): a wake-up hands a waiting goroutine only the chance to try,
// and unlock wakes one waiter at most until that one has run (gateWoken),
// so a busy consumer that comes straight back pays for no more than one
// wake-up per scheduling of the waiter. A waiter gets the gate whenever
// the holder is away longer than that: between messages, while it works
// on the last one. Goroutines are not served in order; no order among
// consumers was promised.
type gate struct {
	// on: set once (records.contended); read at every take.
	on atomic.Bool
	// idle counts this view's goroutines waiting in take while the gate
	// is off (take: +1, -1 around its wait); two at once turn it on.
	idle atomic.Int32
	// state: gateLocked, gateWoken and the count of goroutines waiting in
	// lockSlow (<< gateShift); every change is a CAS or an Add.
	state atomic.Int64
	// sema holds at most one token: sent by the goroutine that sets
	// gateWoken, taken by the waiter that then clears it.
	sema chan struct{}
}

const (
	gateLocked = 1 << 0 // held
	gateWoken  = 1 << 1 // a token is on its way to a waiter, or in sema
	gateShift  = 2      // waiters count from this bit up
	gateWaiter = 1 << gateShift
)

func newGate() gate { return gate{sema: make(chan struct{}, 1)} }

// lock takes the gate, or returns ctx's error once ctx is done.
func (g *gate) lock(ctx context.Context) error {
	if g.state.CompareAndSwap(0, gateLocked) {
		return nil
	}
	return g.lockSlow(ctx)
}

func (g *gate) lockSlow(ctx context.Context) error {
	awoke := false // this goroutine took the token: gateWoken is its to clear
	for {
		old := g.state.Load()
		if old&gateLocked == 0 {
			next := old | gateLocked
			if awoke {
				next &^= gateWoken
			}
			if g.state.CompareAndSwap(old, next) {
				return nil
			}
			continue
		}
		next := old + gateWaiter
		if awoke {
			next &^= gateWoken
		}
		if !g.state.CompareAndSwap(old, next) {
			continue
		}
		awoke = false
		select {
		case <-g.sema:
			g.state.Add(-gateWaiter)
			awoke = true
			if err := ctx.Err(); err != nil {
				g.passToken()
				return err
			}
		case <-ctx.Done():
			g.state.Add(-gateWaiter)
			return ctx.Err()
		}
	}
}

// passToken is a woken waiter's giving up (its context is done): it
// clears gateWoken and wakes another waiter if the gate is free, so the
// wake-up it took is not lost to the others.
func (g *gate) passToken() {
	g.state.Add(-gateWoken)
	g.wake()
}

// unlock releases the gate and wakes a waiter, unless one is woken
// already or another goroutine took the gate meanwhile (its unlock wakes).
func (g *gate) unlock() {
	if g.state.Add(-gateLocked)&gateLocked != 0 {
		panic("forkless/queue: unlock of an unlocked gate")
	}
	g.wake()
}

// wake sends the token to one waiter when the gate is free, nobody holds
// gateWoken and somebody waits.
//
// Lost wake-up argument: a waiter W registers (CAS adding gateWaiter) only
// while the gate is locked, then blocks on sema. The holder H's unlock
// clears gateLocked (Add) and then runs wake. Either W's registering CAS
// came first, and H's wake sees W counted; or H's Add came first, and W's
// CAS, which expects the old locked word, fails: W reloads, finds the gate
// free and takes it. If wake finds gateWoken set, the token that set it
// is in sema or taken by a waiter that has not yet cleared it: that waiter
// runs lockSlow again (or passToken), and either takes the free gate or
// registers again while another holder has it, whose unlock wakes.
func (g *gate) wake() {
	for {
		old := g.state.Load()
		if old&(gateLocked|gateWoken) != 0 || old>>gateShift == 0 {
			return
		}
		if g.state.CompareAndSwap(old, old|gateWoken) {
			g.sema <- struct{}{} // never blocks: gateWoken was clear, so sema was empty
			return
		}
	}
}
