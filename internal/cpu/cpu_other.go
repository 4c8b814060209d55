//go:build !linux

package cpu

import "runtime"

// affinity falls back to runtime.NumCPU, which honours the affinity mask
// where the system has one.
func affinity() int { return runtime.NumCPU() }

// quota: cgroups exist only on Linux.
func quota() (float64, bool) { return 0, false }
