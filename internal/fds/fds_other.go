//go:build !linux

package fds

import (
	"io"
	"os"
	"time"
)

// ExecOnlyGiven runs start: outside Linux descriptors are left as they
// are.
func ExecOnlyGiven(first int, start func() error) error { return start() }

// ReadNow reads n bytes from fd with a plain blocking read: wait is not
// enforced outside Linux.
func ReadNow(fd, n int, wait time.Duration) ([]byte, error) {
	b := make([]byte, n)
	got, err := io.ReadFull(os.NewFile(uintptr(fd), "fd"), b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return b[:got], err
}
