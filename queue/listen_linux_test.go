package queue_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
)

// TestListenerRefusesAnotherUser runs the dialler as another user (nobody,
// uid 65534): with the socket at its 0600 mode the file permissions stop
// it; with the socket opened up to everyone, the peer-uid check refuses it
// on both sides (ErrAuthentication). It needs root to start a process as
// another user, and skips otherwise.
func TestListenerRefusesAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	ctx := qCtx(t)
	dir, err := os.MkdirTemp("", "forkless-listen-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	helper := filepath.Join(dir, "helper.test")
	if err := copyExecutable(helper); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // nobody may reach the helper and the socket's directory
	l, err := queue.Listen(filepath.Join(dir, "sock"), queue.Config{Bytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dial := func(expect string) error {
		cmd := exec.CommandContext(ctx, helper, "-test.run=^TestListenerHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FORKLESS_TEST_DIAL="+l.Addr(), "FORKLESS_TEST_EXPECT="+expect)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("helper output:\n%s", out)
		}
		return err
	}
	if err := dial("denied"); err != nil {
		t.Fatalf("another user past a 0600 socket: %v", err)
	}
	if err := os.Chmod(l.Addr(), 0o666); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := l.Accept(actx)
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	if err := dial("refused"); err != nil {
		t.Fatalf("another user's Dial: %v", err)
	}
	if err := <-accepted; !errors.Is(err, queue.ErrAuthentication) {
		t.Fatalf("Accept of another user = %v, want ErrAuthentication", err)
	}
}

func copyExecutable(dst string) error {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
