package owner

import (
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/internal/futex"
)

// maxWatches bounds the processes one Watcher watches (an RWMutex's
// reader slots, a Barrier's members).
const maxWatches = 32

// Watcher wakes a sleeper when a process it waits on exits, so that it
// need not nap briefly to look for a dead peer: each watched process's
// pidfd, in the runtime's netpoller, costs nothing while the process lives
// (event.OnExit). A blocking call keeps one Watcher (not copied: the
// watches refer to it), adds the processes it waits on with Watch, checks
// Fired when it wakes, and calls Stop before it returns.
//
// An exit may land after the sleeper last looked (Pending) but before the
// kernel queued it on the word, where a single wake finds nobody and the
// sleeper would sleep its whole nap (futex.LongNap). So the exit callback
// wakes the word again every watchRetry until the sleeper has seen the
// exit (Fired) or stopped watching, for at most futex.LongNap, as
// futex.WaitContext's cancellation hook does.
type Watcher struct {
	fired   atomic.Bool
	stopped atomic.Bool // Stop was called: an exit callback stops waking
	failed  bool        // no pidfds here: the caller naps as before
	watched []Word
	stops   []func()
}

// Watch makes an exit of the process w names wake every sleeper on f
// (and Fired report true), and reports whether w is watched: true for
// nobody (0), this process, and w dead already (Fired is then true at
// once); false when w cannot be watched (no pidfds, too many watches), and
// the caller must nap briefly instead.
func (x *Watcher) Watch(w Word, f *atomic.Uint32) bool {
	w = w.Holder()
	if w == 0 {
		return true
	}
	if me, err := Self(); err == nil && w == me {
		return true
	}
	for _, v := range x.watched {
		if v == w {
			return true
		}
	}
	if x.failed || len(x.watched) >= maxWatches {
		return false
	}
	stop, gone, err := event.OnExit(w.Pid(), func() bool { return w.ID().Alive() }, func() { x.exited(f) })
	switch {
	case err != nil:
		x.failed = true
		return false
	case gone:
		x.fired.Store(true)
		return true
	}
	x.watched = append(x.watched, w)
	x.stops = append(x.stops, stop)
	return true
}

// watchRetry is how long an exit callback pauses between its wakes.
const watchRetry = 20 * time.Microsecond

// exited is a watch's exit callback: record the exit and wake f until the
// sleeper has seen it (Fired), stopped watching, or futex.LongNap passed.
func (x *Watcher) exited(f *atomic.Uint32) {
	x.fired.Store(true)
	for end := time.Now().Add(futex.LongNap); x.fired.Load() && !x.stopped.Load(); {
		futex.Wake(f, -1) //nolint:errcheck // EFAULT at worst, if the memory went
		if time.Now().After(end) {
			return
		}
		time.Sleep(watchRetry)
	}
}

// Fired reports whether a watched process exited since the last call.
func (x *Watcher) Fired() bool { return x.fired.Load() && x.fired.Swap(false) }

// Pending reports, without consuming it, whether a watched process exited
// since the last Fired: a sleeper checks it right before it sleeps, and
// does not sleep if so (Watch of a process already dead, or an exit since
// the Watch, leaves nobody to wake the sleep).
func (x *Watcher) Pending() bool { return x.fired.Load() }

// Stop ends every watch; a Watcher is not used again after Stop.
func (x *Watcher) Stop() {
	x.stopped.Store(true)
	for _, stop := range x.stops {
		stop()
	}
	x.watched, x.stops = nil, nil
}
