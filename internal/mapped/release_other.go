//go:build !amd64

package mapped

import "sync/atomic"

// StoreRelease stores v in the shared word at p with release order (see
// release_amd64.go): an atomic store, a release store (STLR) on arm64.
func StoreRelease(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
