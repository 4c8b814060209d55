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
type peerWatch struct {
	mu   sync.Mutex
	word uint64 // the owner word watched, 0: none
	stop func() // ends the current watch, nil: none
	gen  uint64 // bumped by every new watch, so a stale callback does nothing
	dead atomic.Bool
}

// watch makes sure the process named by owner word w is watched, and that
// wake runs when it dies. It is cheap when w is already watched.
func (pw *peerWatch) watch(w uint64, wake func()) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.word == w {
		return
	}
	pw.stopLocked()
	pw.word = w
	pw.gen++
	gen := pw.gen
	stop, gone, err := event.OnExit(int((w>>8)&0xffffff), func() bool { return ownerAlive(w) }, func() {
		// Under the lock: end (Pipe.Close) then waits for a wake that is
		// running, so none touches the ring after Close returns (its
		// region may be unmapped right after).
		pw.mu.Lock()
		defer pw.mu.Unlock()
		if pw.gen == gen {
			pw.dead.Store(true)
			wake()
		}
	})
	if err != nil {
		return
	}
	pw.dead.Store(gone)
	pw.stop = stop
}

// watching reports whether owner word w is watched already (so that a
// waiter need not build the callback watch would drop).
func (pw *peerWatch) watching(w uint64) bool {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.word == w
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
