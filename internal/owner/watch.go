package owner

import (
	"sync/atomic"

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
type Watcher struct {
	fired   atomic.Bool
	failed  bool // no pidfds here: the caller naps as before
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
	stop, gone, err := event.OnExit(w.Pid(), func() bool { return w.ID().Alive() }, func() {
		x.fired.Store(true)
		futex.Wake(f, -1) //nolint:errcheck // EFAULT at worst, if the memory went
	})
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

// Fired reports whether a watched process exited since the last call.
func (x *Watcher) Fired() bool { return x.fired.Load() && x.fired.Swap(false) }

// Stop ends every watch.
func (x *Watcher) Stop() {
	for _, stop := range x.stops {
		stop()
	}
	x.watched, x.stops = nil, nil
}
