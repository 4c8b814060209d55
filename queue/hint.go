//go:build !race

package queue

import "sync/atomic"

// hint is a process-local copy of a shared word that is only ever a hint
// (a consumer's last look at tail, a producer's at freed: never ahead of
// the real value, and re-read from the ring when it does not suffice). It
// is stored without a fence: an atomic store is an XCHG on amd64, a full
// barrier on every take for a value no other process reads. A word-sized
// aligned store is never torn (the Go memory model), and a goroutine that
// reads a stale hint only loads the ring's word. Under the race detector
// (hint_race.go) it is an ordinary atomic.
type hint struct{ v uint64 }

func (h *hint) load() uint64 { return atomic.LoadUint64(&h.v) }

func (h *hint) store(v uint64) { h.v = v }
