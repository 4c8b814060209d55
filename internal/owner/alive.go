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
// lock is never taken from it. It answers true for the zero word (nobody
// holds it: there is no holder to recover from, and callers that scan
// slots rely on a free one not looking dead) and for this process. A word
// that is not zero but names pid 0 names no process: corrupt (see
// Word.Valid), it answers false, so that a waiter takes the lock over
// instead of waiting for ever. A zombie counts as dead: it will never
// release anything.
func Alive(w Word) bool {
	if w == 0 {
		return true
	}
	if me, err := Self(); err == nil && w.Holder() == me {
		return true
	}
	return w.ID().Alive()
}

// Alive reports whether the process id names still runs, as Alive does for
// a word; for the words of other layouts that hold a pid and the low half
// of a start time. A pid of 0 or less is not a process: false. It reads
// /proc/PID/stat once, for the start time and the state together.
func (id ID) Alive() bool {
	if id.Pid <= 0 {
		return false
	}
	st, zombie, err := proc.Stat(int(id.Pid))
	if err != nil {
		return !errors.Is(err, proc.ErrNoProcess)
	}
	return uint32(st) == id.Start && !zombie
}
