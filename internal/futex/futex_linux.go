package futex

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	opWait = 0 // FUTEX_WAIT, deliberately without FUTEX_PRIVATE_FLAG
	opWake = 1 // FUTEX_WAKE, deliberately without FUTEX_PRIVATE_FLAG
)

// Wait sleeps while *addr == val, for at most timeout (forever when timeout
// is negative). It returns nil when woken, when *addr no longer holds val on
// entry (EAGAIN), or on a signal (EINTR): callers always re-check their
// condition in a loop, so a spurious return is harmless. It returns
// ErrTimeout when the time ran out.
func Wait(addr *atomic.Uint32, val uint32, timeout time.Duration) error {
	var tsp unsafe.Pointer
	var ts unix.Timespec
	if timeout >= 0 {
		ts = unix.NsecToTimespec(int64(timeout))
		tsp = unsafe.Pointer(&ts)
	}
	syscalls.Add(1)
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opWait, uintptr(val), uintptr(tsp), 0, 0)
	switch errno {
	case 0, unix.EAGAIN, unix.EINTR:
		return nil
	case unix.ETIMEDOUT:
		return ErrTimeout
	}
	return errno
}

// Wake wakes at most n waiters sleeping on addr, in any process, and reports
// how many it woke. n < 0 wakes them all.
func Wake(addr *atomic.Uint32, n int) (int, error) {
	if n < 0 || n > math.MaxInt32 {
		n = math.MaxInt32
	}
	syscalls.Add(1)
	woken, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opWake, uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(woken), nil
}
