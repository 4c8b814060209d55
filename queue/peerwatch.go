package queue

import (
	"sync"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/event"
)

// peerWatch notices at once, and at no cost while nothing happens, that
// the process at the other end of a pipe died (event.OnExit: a pidfd the
// netpoller waits on). One watch per ring (a pipe end watches its recv
// ring's writer and its send ring's reader), kept until the peer's owner
// word changes, the peer dies, or the pipe is closed. Where it cannot
// watch, waitPeer's once-a-second liveness check remains, and it always
// confirms a death with ownerAlive.
//
// The exit callback outlives the waits that set it up, and may run after
// the ring's region was closed (an end never closed): it touches the
// mapping only while a waiter is inside waitPeer (waiting, under mu, which
// leave takes before waitPeer returns), and otherwise only sets dead, in
// this process's memory, for the next wait to find.
type peerWatch struct {
	mu      sync.Mutex
	word    uint64 // the owner word watched, 0: none
	stop    func() // ends the current watch, nil: none
	gen     uint64 // bumped by every new watch, so a stale callback does nothing
	waiting int    // waiters between enter and leave
	dead    atomic.Bool
}

// enter counts a waiter of q about to sleep, and makes sure the process
// named by owner word w is watched (0 or this process: nothing to watch).
// It is cheap when w is already watched. Every enter is paired with leave.
func (pw *peerWatch) enter(q *records, w uint64) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.waiting++
	if w == 0 || w == q.me || pw.word == w {
		return
	}
	pw.stopLocked()
	pw.word = w
	pw.gen++
	gen := pw.gen
	stop, gone, err := event.OnExit(int((w>>8)&0xffffff), func() bool { return ownerAlive(w) }, func() { pw.exited(q, gen) })
	if err != nil {
		return
	}
	pw.dead.Store(gone)
	pw.stop = stop
}

// leave ends a waiter's enter. Once it returns, no exit callback touches
// q's mapping on that waiter's behalf.
func (pw *peerWatch) leave() {
	pw.mu.Lock()
	pw.waiting--
	pw.mu.Unlock()
}

// exited is the exit callback of watch gen: it marks the peer dead and
// wakes q's waiters, if there are any (then the region is mapped: they
// are reading it) and the region is still open here.
func (pw *peerWatch) exited(q *records, gen uint64) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.gen != gen {
		return
	}
	pw.dead.Store(true)
	if pw.waiting > 0 && q.b.Live() {
		q.notEmpty.Notify()
		q.notFull.Notify()
	}
}

// diedMaybe reports whether the watched process was seen to exit; the
// caller confirms with ownerAlive (the word may have changed since).
func (pw *peerWatch) diedMaybe() bool { return pw.dead.Load() }

// end ends the watch (Pipe.Close).
func (pw *peerWatch) end() {
	pw.mu.Lock()
	pw.stopLocked()
	pw.mu.Unlock()
}

func (pw *peerWatch) stopLocked() {
	if pw.stop != nil {
		pw.stop()
		pw.stop = nil
	}
	pw.gen++
	pw.word = 0
	pw.dead.Store(false)
}
