//go:build !linux

package fds

import (
	"io"
	"os"
	"time"
)

// CloseInherited does nothing outside Linux.
func CloseInherited(first int) error { return nil }

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
