package fds

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestExecOnlyGiven(t *testing.T) {
	fd, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cloexec := func() bool {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		return flags&unix.FD_CLOEXEC != 0
	}
	if cloexec() {
		t.Fatal("opened close-on-exec already")
	}
	var during bool
	if err := ExecOnlyGiven(3, func() error { during = cloexec(); return nil }); err != nil {
		t.Fatal(err)
	}
	if !during || cloexec() {
		t.Fatalf("close-on-exec during the start: %v (want true), after: %v (want false)", during, cloexec())
	}
}

func TestReadNow(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if _, err := ReadNow(int(r.Fd()), 4, 50*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("idle pipe: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle pipe held ReadNow %v", d)
	}
	w.Write([]byte("abcdef"))
	if b, err := ReadNow(int(r.Fd()), 4, time.Second); err != nil || string(b) != "abcd" {
		t.Errorf("ReadNow = %q, %v", b, err)
	}
	w.Close()
	if b, err := ReadNow(int(r.Fd()), 4, time.Second); !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "ef" {
		t.Errorf("after close: %q, %v", b, err)
	}
	if _, err := ReadNow(1<<20, 4, time.Second); !errors.Is(err, syscall.EBADF) {
		t.Errorf("closed fd: %v", err)
	}
}
