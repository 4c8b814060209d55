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

func TestCloseInherited(t *testing.T) {
	leaked, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	own, err := os.Open("/dev/null") // close-on-exec, as Go opens everything
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if err := CloseInherited(3); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(leaked), unix.F_GETFD, 0); err != unix.EBADF {
		syscall.Close(leaked)
		t.Errorf("the descriptor without close-on-exec is still open (%v)", err)
	}
	if _, err := unix.FcntlInt(own.Fd(), unix.F_GETFD, 0); err != nil {
		t.Errorf("a close-on-exec descriptor was closed: %v", err)
	}
}

func BenchmarkCloseInherited(b *testing.B) {
	for b.Loop() {
		CloseInherited(1 << 20)
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
