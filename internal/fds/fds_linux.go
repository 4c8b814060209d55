package fds

import (
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CloseInherited closes every descriptor numbered from first up that is
// not close-on-exec: in a process just started, those are the ones its
// parent leaked to it, since everything Go opens (the runtime's epoll,
// eventfd and cgroup files, every os.Open) is close-on-exec. It lists them
// with raw system calls (no os.File, no poller): a handful of calls for a
// process with a handful of descriptors.
func CloseInherited(first int) error {
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	var buf [4096]byte
	var names []string
	for {
		n, err := unix.ReadDirent(dir, buf[:])
		if err != nil {
			return err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < first || fd == dir {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
	return nil
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
