//go:build !amd64

package queue

import "sync/atomic"

// storeRel stores v in the shared word at p with release order (see
// store_amd64.go): an atomic store, a release store (STLR) on arm64.
func storeRel(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
