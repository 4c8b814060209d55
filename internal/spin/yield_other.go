//go:build !linux

package spin

import "runtime"

// osYield yields to this process's goroutines only: other systems do not
// run forkless's cross-process primitives.
var osYield = runtime.Gosched
