package proc

import "errors"

// ErrNoProcess is returned when no process has the given pid.
var ErrNoProcess = errors.New("no such process")

// ID names one process for the life of the machine: a pid plus the start
// time that tells it from a later process given the same pid.
type ID struct {
	Pid   int32
	Start uint64
}

// Self returns the ID of the calling process. It is computed once.
func Self() ID { return self() }

// Emulated reports whether this process runs under a user-mode emulator
// that serves the process its own /proc/self/stat: qemu-user does, for
// every binary it runs (an arm64 test binary on an amd64 machine). The
// file it writes gives a virtual memory size of 0, which the kernel never
// reports for a user process. Nothing in the library depends on the answer
// (see statPath); tests use it to skip what only an emulator's speed
// breaks. It is computed once, on first use.
func Emulated() bool { return emulated() }
