//go:build !linux

package proc

import (
	"errors"
	"fmt"
	"os"
)

func self() ID { return ID{Pid: int32(os.Getpid())} }

// StartTime is only implemented on Linux.
func StartTime(pid int) (uint64, error) {
	return 0, fmt.Errorf("read start time of pid %d: %w", pid, errors.ErrUnsupported)
}

// Stat is only implemented on Linux.
func Stat(pid int) (start uint64, zombie bool, err error) {
	return 0, false, fmt.Errorf("read stat of pid %d: %w", pid, errors.ErrUnsupported)
}

// Alive cannot tell on this system and answers true, so that no live
// owner's lock is ever taken from it.
func Alive(id ID) bool { return id.Pid > 0 }

func emulated() bool { return false }
