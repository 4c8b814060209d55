//go:build !linux

package futex

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Wait is only implemented on Linux.
func Wait(addr *atomic.Uint32, val uint32, timeout time.Duration) error {
	return fmt.Errorf("futex wait: %w", errors.ErrUnsupported)
}

// Wake is only implemented on Linux.
func Wake(addr *atomic.Uint32, n int) (int, error) {
	return 0, fmt.Errorf("futex wake: %w", errors.ErrUnsupported)
}
