package fds

import (
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ExecOnlyGiven runs start, which forks and execs a child, with every
// descriptor numbered from first up that is not close-on-exec made so for
// the duration, then restores their flags: the child gets only the
// descriptors start passes explicitly (os/exec's ExtraFiles are duplicated
// onto their numbers whatever their flags), and this process's own
// descriptors keep their meaning for its own later execs. A descriptor
// opened without close-on-exec by another thread while start runs may
// still reach the child: Go gives no hook between fork and exec.
func ExecOnlyGiven(first int, start func() error) error {
	marked := inheritable(first)
	for _, fd := range marked {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	err := start()
	for _, fd := range marked {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	}
	return err
}

// inheritable lists the open descriptors from first up that are not
// close-on-exec.
func inheritable(first int) []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < first {
			continue
		}
		// The directory's own descriptor is listed too: it is closed
		// by now (EBADF) or close-on-exec.
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	return fds
}

// ReadNow reads n bytes from fd, which it does not own and leaves open and
// unchanged, waiting at most wait in all for them to arrive. It returns
// what it read, with an error saying why it stopped short: fd is not open
// (EBADF), its writer closed it (io.ErrUnexpectedEOF), or nothing came in
// time (os.ErrDeadlineExceeded).
func ReadNow(fd, n int, wait time.Duration) ([]byte, error) {
	b := make([]byte, n)
	got := 0
	deadline := time.Now().Add(wait)
	for got < n {
		ms := max(int(time.Until(deadline)/time.Millisecond), 0)
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		k, err := unix.Poll(pfd, ms)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return b[:got], err
		case k == 0:
			return b[:got], os.ErrDeadlineExceeded
		case pfd[0].Revents&unix.POLLNVAL != 0:
			return b[:got], syscall.EBADF
		}
		// Readable (or hung up): this read does not block.
		m, err := unix.Read(fd, b[got:])
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil:
			return b[:got], err
		case m == 0:
			return b[:got], io.ErrUnexpectedEOF
		}
		got += m
	}
	return b, nil
}
