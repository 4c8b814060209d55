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
