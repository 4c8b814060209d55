package sync

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
)

const (
	evSet     = 1 << 0
	evWaiters = 1 << 1
	evGenStep = 1 << 2
)

// eventWords is an Event in shared memory.
type eventWords struct {
	_ [0]atomic.Uint64 // 8-aligned, as it always was
	// state is the flag, and the futex word waiters sleep on:
	//   bit     0 evSet: the flag (Set: CAS v -> v+gen|set; Clear: AND)
	//   bit     1 evWaiters: someone sleeps or is about to (set by a
	//             waiter with CAS; cleared by the Set that wakes)
	//   bits 2-31 generation: +1 at every Set that raises the flag, so a
	//             waiter also returns for a Set that a Clear undid before
	//             it woke (Python's threading.Event does the same)
	// A waiter that sees the flag (or a new generation) acquires what the
	// setter did before its Set's CAS.
	state atomic.Uint32
	_     uint32 // reserved, zero
}

// EventSize and EventAlign are the bytes an Event placed with EventAt takes
// and the alignment its offset needs.
const (
	EventSize  = int64(unsafe.Sizeof(eventWords{}))
	EventAlign = int64(unsafe.Alignof(eventWords{}))
)

var (
	_ [0]struct{} = [EventSize - 8]struct{}{}
	_ [0]struct{} = [EventAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(eventWords{}.state) - 0]struct{}{}
)

// Every state word is one an Event could be in: nothing to check.
func (w *eventWords) validate() error { return nil }

// Event is a flag that processes can wait for: Python's
// multiprocessing.Event. Set raises it and wakes every waiter; Clear lowers
// it; Wait returns once it is raised.
//
// An Event has no owner: a process dying inside Wait or between Set and
// Clear leaves it consistent.
type Event struct {
	_ noCopy
	o obj
	s *atomic.Uint32
}

// NewEvent allocates a cleared Event in r.
func NewEvent(r *shm.Region) (*Event, error) {
	return newEvent(allocObj[eventWords](r, KindEvent, "event"))
}

// OpenEvent binds an Event made by NewEvent from its handle.
func OpenEvent(h shm.Handle) (*Event, error) {
	return newEvent(openObj[eventWords](h, KindEvent, "event"))
}

// EventAt places an Event at offset off of another package's block; see
// MutexAt for the rules.
func EventAt(b shm.Block, off int64) (*Event, error) {
	return newEvent(atObj[eventWords](b, off, "event"))
}

func newEvent(o obj, w *eventWords, err error) (*Event, error) {
	if err != nil {
		return nil, err
	}
	return &Event{o: o, s: &w.state}, nil
}

// Handle names the Event for another process.
func (e *Event) Handle() shm.Handle { return e.o.handle() }

// IsSet reports whether the flag is raised.
func (e *Event) IsSet() bool { return e.o.live() && e.s.Load()&evSet != 0 }

// Set raises the flag and wakes all waiters. It makes a system call only
// when someone waits. Using an Event whose region was closed panics.
func (e *Event) Set() {
	e.o.mustLive("Event")
	for {
		v := e.s.Load()
		if v&evSet != 0 {
			return
		}
		if e.s.CompareAndSwap(v, (v+evGenStep)&^evWaiters|evSet) {
			if v&evWaiters != 0 {
				wake(e.s, -1)
			}
			return
		}
	}
}

// Clear lowers the flag.
func (e *Event) Clear() {
	e.o.mustLive("Event")
	e.s.And(^uint32(evSet))
}

// Wait waits until the flag is raised.
func (e *Event) Wait() error { return e.WaitContext(context.Background()) }

// WaitContext is Wait that gives up when ctx ends, with ctx's error.
//
// Lost wake-up argument: a waiter sets bit 1 with a CAS from a value v
// without bit 0 and sleeps expecting v|bit1. Set replaces the whole word
// with a CAS, and wakes if the value it replaced had bit 1. Either Set's
// CAS comes first (the waiter's CAS fails and it sees the flag or the new
// generation) or the waiter's does (Set sees bit 1 and wakes; a waiter not
// yet asleep finds the word changed and returns at once).
func (e *Event) WaitContext(ctx context.Context) error {
	if !e.o.live() {
		return closedErr("wait for event")
	}
	v := e.s.Load()
	if v&evSet != 0 {
		return nil
	}
	gen := v &^ (evSet | evWaiters)
	bo := newWaitBackoff(ctx, e.o.spin)
	bo.long() // no peer can die on this wait: the naps are a safety net
	for {
		v = e.s.Load()
		if v&evSet != 0 || v&^(evSet|evWaiters) != gen {
			bo.won()
			return nil
		}
		if bo.spin() {
			continue
		}
		if v&evWaiters == 0 {
			if !e.s.CompareAndSwap(v, v|evWaiters) {
				continue
			}
			v |= evWaiters
		}
		if err := bo.sleep(e.s, v); err != nil && err != errNap {
			return fmt.Errorf("wait for event: %w", err)
		}
	}
}
