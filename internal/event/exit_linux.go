package event

import (
	"os"

	"golang.org/x/sys/unix"
)

// OnExit calls fn once, on a goroutine of its own, when the process pid
// exits, and returns a function that ends the watch (fn is not called
// after it returns, unless the exit was seen before). The watch costs
// nothing while the process lives: the kernel makes a pidfd readable when
// its process exits, and the runtime's netpoller waits for that without a
// thread or a timer. same is called after the pidfd is open and must
// report whether pid still names the intended process (a pid can be
// reused): when it does not, or pid is gone, OnExit reports gone and
// watches nothing. An error (no pidfds here, a poller that refuses the
// descriptor) means: watch some other way.
func OnExit(pid int, same func() bool, fn func()) (stop func(), gone bool, err error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err == unix.ESRCH {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !same() {
		unix.Close(fd) //nolint:errcheck // a descriptor we just opened
		return nil, true, nil
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, false, err
	}
	go func() {
		first := true
		// The first call asks the poller to wait for readability; the
		// second comes when the process has exited. Closing f ends the
		// wait with an error instead.
		err := rc.Read(func(uintptr) bool {
			if first {
				first = false
				return false
			}
			return true
		})
		if err == nil {
			fn()
		}
	}()
	return func() { f.Close() }, false, nil
}
