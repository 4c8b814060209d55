//go:build linux

package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/forkless-go/forkless/spawn"
)

// The child roles. A benchmark re-executes the test binary with BENCH_CHILD
// set to one of these; TestMain runs the role instead of the tests.
const (
	envChild = "BENCH_CHILD"
	envSize  = "BENCH_SIZE"
	envCount = "BENCH_COUNT"

	roleProduce = "produce" // write a ready byte to fd 5, wait for the go byte on fd 3, write COUNT messages of SIZE bytes to fd 4
	roleEcho    = "echo"    // read SIZE bytes from fd 3, write them back to fd 4, until EOF
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envChild); role != "" {
		if err := child(role); err != nil {
			fmt.Fprintf(os.Stderr, "bench child %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	spawn.Main() // a forkless child runs its function here and exits
	os.Exit(m.Run())
}

func child(role string) error {
	size, err := strconv.Atoi(os.Getenv(envSize))
	if err != nil {
		return fmt.Errorf("read %s: %w", envSize, err)
	}
	in, out := os.NewFile(3, "in"), os.NewFile(4, "out")
	buf := make([]byte, size)
	switch role {
	case roleProduce:
		count, err := strconv.Atoi(os.Getenv(envCount))
		if err != nil {
			return fmt.Errorf("read %s: %w", envCount, err)
		}
		ready := os.NewFile(5, "ready")
		if _, err := ready.Write([]byte{1}); err != nil {
			return fmt.Errorf("say ready: %w", err)
		}
		ready.Close()
		var goByte [1]byte
		if _, err := io.ReadFull(in, goByte[:]); err != nil {
			return fmt.Errorf("wait for go: %w", err)
		}
		for i := range count {
			buf[0] = byte(i)
			if _, err := out.Write(buf); err != nil {
				return fmt.Errorf("write message %d: %w", i, err)
			}
		}
		return nil
	case roleEcho:
		for {
			if _, err := io.ReadFull(in, buf); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			if _, err := out.Write(buf); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	}
	return fmt.Errorf("unknown role %q", role)
}

// startChild re-executes the test binary in role, with in as its fd 3,
// out as its fd 4 and the rest of extra from fd 5 on. The caller closes
// its own copies of the child's ends.
func startChild(tb testing.TB, role string, size, count int, in, out *os.File, extra ...*os.File) *exec.Cmd {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		envChild+"="+role,
		envSize+"="+strconv.Itoa(size),
		envCount+"="+strconv.Itoa(count))
	cmd.ExtraFiles = append([]*os.File{in, out}, extra...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s child: %v", role, err)
	}
	return cmd
}

// socketpair returns two connected Unix sockets of the given type
// (syscall.SOCK_STREAM or syscall.SOCK_SEQPACKET), non-blocking so that Go's
// poller serves them as it serves a net.UnixConn.
func socketpair(tb testing.TB, typ int) (a, b *os.File) {
	tb.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("socketpair: %v", err)
	}
	for _, fd := range fds {
		if err := syscall.SetNonblock(fd, true); err != nil {
			tb.Fatalf("set non-blocking: %v", err)
		}
	}
	return os.NewFile(uintptr(fds[0]), "sock0"), os.NewFile(uintptr(fds[1]), "sock1")
}
