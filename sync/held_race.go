//go:build race

package sync

import "sync/atomic"

// heldCount is held.go's counter, atomic for the race detector.
type heldCount struct{ n atomic.Int64 }

func (h *heldCount) add(d int64) { h.n.Add(d) }
func (h *heldCount) get() int64  { return h.n.Load() }
