package sync

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
)

const (
	wgCount   = 1<<31 - 1
	wgWaiters = 1 << 31
)

// waitGroupWords is a WaitGroup in shared memory.
type waitGroupWords struct {
	_ [0]atomic.Uint64 // 8-aligned, as it always was
	// state is the count, and the futex word waiters sleep on:
	//   bits 0-30 the count (Add and Done: CAS)
	//   bit    31 wgWaiters: someone sleeps or is about to (set by a
	//             waiter with CAS; cleared by the Done that takes the
	//             count to zero, which then wakes)
	// A waiter that sees the count at zero acquires what every Done
	// released before it.
	state atomic.Uint32
	_     uint32 // reserved, zero
}

// WaitGroupSize and WaitGroupAlign are the bytes a WaitGroup placed with
// WaitGroupAt takes and the alignment its offset needs.
const (
	WaitGroupSize  = int64(unsafe.Sizeof(waitGroupWords{}))
	WaitGroupAlign = int64(unsafe.Alignof(waitGroupWords{}))
)

var (
	_ [0]struct{} = [WaitGroupSize - 8]struct{}{}
	_ [0]struct{} = [WaitGroupAlign - 8]struct{}{}
	_ [0]struct{} = [unsafe.Offsetof(waitGroupWords{}.state) - 0]struct{}{}
)

// Every state word is one a WaitGroup could be in: nothing to check.
func (w *waitGroupWords) validate() error { return nil }

// WaitGroup waits for a count of tasks, done in any processes, to finish:
// sync.WaitGroup across processes. Add(n) before starting work, Done when a
// piece ends, Wait until the count is zero.
//
// A process that dies before its Done leaves the count up for good: Wait
// then waits until its context ends. Pair the WaitGroup with the children's
// exit (spawn's Process.Wait) if workers may crash.
type WaitGroup struct {
	_ noCopy
	o obj
	s *atomic.Uint32
}

// NewWaitGroup allocates a WaitGroup with count zero in r.
func NewWaitGroup(r *shm.Region) (*WaitGroup, error) {
	return newWaitGroup(allocObj[waitGroupWords](r, KindWaitGroup, "waitgroup"))
}

// OpenWaitGroup binds a WaitGroup made by NewWaitGroup from its handle.
func OpenWaitGroup(h shm.Handle) (*WaitGroup, error) {
	return newWaitGroup(openObj[waitGroupWords](h, KindWaitGroup, "waitgroup"))
}

// WaitGroupAt places a WaitGroup at offset off of another package's block;
// see MutexAt for the rules.
func WaitGroupAt(b shm.Block, off int64) (*WaitGroup, error) {
	return newWaitGroup(atObj[waitGroupWords](b, off, "waitgroup"))
}

func newWaitGroup(o obj, w *waitGroupWords, err error) (*WaitGroup, error) {
	if err != nil {
		return nil, err
	}
	return &WaitGroup{o: o, s: &w.state}, nil
}

// Handle names the WaitGroup for another process.
func (wg *WaitGroup) Handle() shm.Handle { return wg.o.handle() }

// Add adds delta, which may be negative, to the count. When the count
// reaches zero, every waiter is woken (a system call only if some wait).
// A count that would go negative or overflow panics, as with sync.WaitGroup,
// and is left unchanged.
func (wg *WaitGroup) Add(delta int) {
	wg.o.mustLive("WaitGroup")
	for {
		v := wg.s.Load()
		n := int64(v&wgCount) + int64(delta)
		if n < 0 {
			panic("forkless/sync: negative WaitGroup counter")
		}
		if n > wgCount {
			panic("forkless/sync: WaitGroup counter overflow")
		}
		nv := uint32(n) | v&wgWaiters
		if n == 0 {
			nv = 0
		}
		if wg.s.CompareAndSwap(v, nv) {
			if n == 0 && v&wgWaiters != 0 {
				futex.Wake(wg.s, -1)
			}
			return
		}
	}
}

// Done subtracts one from the count.
func (wg *WaitGroup) Done() { wg.Add(-1) }

// Count returns the count now.
func (wg *WaitGroup) Count() int {
	if !wg.o.live() {
		return 0
	}
	return int(wg.s.Load() & wgCount)
}

// Wait waits until the count is zero.
func (wg *WaitGroup) Wait() error { return wg.WaitContext(context.Background()) }

// WaitContext is Wait that gives up when ctx ends. The lost wake-up argument
// is Event's, with "count is zero" for "flag raised".
func (wg *WaitGroup) WaitContext(ctx context.Context) error {
	if !wg.o.live() {
		return closedErr("wait for waitgroup")
	}
	bo := newBackoff(ctx, wg.o.spin)
	bo.long() // no peer can die on this wait: the naps are a safety net
	for {
		v := wg.s.Load()
		if v&wgCount == 0 {
			bo.won()
			return nil
		}
		if bo.spin() {
			continue
		}
		if v&wgWaiters == 0 {
			if !wg.s.CompareAndSwap(v, v|wgWaiters) {
				continue
			}
			v |= wgWaiters
		}
		if err := bo.sleep(wg.s, v); err != nil && err != errNap {
			return fmt.Errorf("wait for waitgroup: %w", err)
		}
	}
}
