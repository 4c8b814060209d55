package owner

import (
	"errors"

	"github.com/forkless-go/forkless/internal/proc"
)

// Alive reports whether the process w names still runs. It reads /proc,
// so it is for waiters that have slept a while, not for hot paths.
//
// It answers true when it cannot tell (no /proc, another system, a read
// that failed for another reason than a missing process): a live holder's
// lock is never taken from it. It answers true for a word naming nobody
// (pid 0: there is no holder to recover from) and for this process.
// A zombie counts as dead: it will never release anything.
func Alive(w Word) bool {
	id := w.ID()
	if id.Pid == 0 {
		return true
	}
	if me, err := Self(); err == nil && w.Holder() == me {
		return true
	}
	return id.Alive()
}

// Alive reports whether the process id names still runs, as Alive does for
// a word; for the words of other layouts that hold a pid and the low half
// of a start time. A zero pid is not a process: false.
func (id ID) Alive() bool {
	if id.Pid <= 0 {
		return false
	}
	st, err := proc.StartTime(int(id.Pid))
	if err != nil {
		return !errors.Is(err, proc.ErrNoProcess)
	}
	if uint32(st) != id.Start {
		return false // the pid now names a later process
	}
	// A second read, for the state (zombie or not), until internal/proc
	// answers start time and state from one read.
	return proc.Alive(proc.ID{Pid: id.Pid, Start: st})
}
