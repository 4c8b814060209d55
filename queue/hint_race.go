//go:build race

package queue

import "sync/atomic"

// hint: see hint.go; under the race detector an ordinary atomic word.
type hint struct{ v atomic.Uint64 }

func (h *hint) load() uint64 { return h.v.Load() }

func (h *hint) store(v uint64) { h.v.Store(v) }
