package futex

import (
	"context"
	"sync/atomic"
	"time"
)

// A sleeper that waits on a peer which may die wakes now and then to check
// on it: its sleeps time out after MinNap, doubling up to MaxNap, so a dead
// lock holder is noticed within about MaxNap, and a live but silent peer
// costs at most one system call per MaxNap (no measurable CPU).
//
// A sleeper with nothing to look for (no peer can die on it), or whose
// peers are watched another way (a pidfd that wakes it when they exit:
// owner.Watcher), sets Long: its naps then grow to LongNap, a safety net
// only, so that blocking costs next to nothing however long it lasts.
const (
	MinNap  = 2 * time.Millisecond
	MaxNap  = 64 * time.Millisecond
	LongNap = 2 * time.Second
)

var naps atomic.Uint64

// Naps reports how many naps of this process ran out their timeout. In a
// healthy hand-off between live processes they are rare; tests and
// benchmarks count them.
func Naps() uint64 { return naps.Load() }

// Napper is one blocking call's sleeps. The zero value starts at MinNap.
type Napper struct {
	nap  time.Duration
	long bool
}

// SetLong makes the naps LongNap long (true: the caller needs no
// wake-up to look for a dead peer) or at most MaxNap (false, the
// default).
func (n *Napper) SetLong(long bool) {
	n.long = long
	switch {
	case long:
		n.nap = LongNap
	case n.nap > MaxNap:
		n.nap = MaxNap
	}
}

// Sleep waits while *addr == val, for at most the current nap, then doubles
// the nap. It returns nil when woken (or the word already differed),
// ErrTimeout when the nap ran out (time to look for a dead peer, then sleep
// again), or ctx's error once ctx is done.
func (n *Napper) Sleep(ctx context.Context, addr *atomic.Uint32, val uint32) error {
	if n.nap == 0 {
		n.nap = MinNap
	}
	err := WaitContext(ctx, addr, val, n.nap)
	if err == ErrTimeout {
		naps.Add(1)
		limit := MaxNap
		if n.long {
			limit = LongNap
		}
		n.nap = min(2*n.nap, limit)
	}
	return err
}
