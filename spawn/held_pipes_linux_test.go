package spawn_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// heldArg is the argument of holdsPipes.
type heldArg struct {
	PidFile string // where the grandchild's pid goes
	Block   bool   // after the fork, wait for the context instead of returning
}

// holdsPipes starts a grandchild (sleep) that inherits every descriptor this
// child has, the response and log pipes to its parent among them, and
// leaves it running: the parent's reads on those pipes never see EOF while
// it lives. It logs one record, then returns or blocks.
var holdsPipes = spawn.Register("spawn.holdsPipes", func(ctx context.Context, a heldArg) (string, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return "", err
	}
	maxFd := 0
	open := map[int]bool{}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			open[fd], maxFd = true, max(maxFd, fd)
		}
	}
	files := make([]uintptr, maxFd+1)
	for fd := range files {
		files[fd] = ^uintptr(0) // closed in the grandchild
		if open[fd] {
			files[fd] = uintptr(fd) // the same number, close-on-exec cleared
		}
	}
	pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "3600"}, &syscall.ProcAttr{Files: files})
	if err != nil {
		return "", err
	}
	// Written aside and renamed into place: the file appears with the pid in
	// it. A test that sees it and kills this child at once (Close) would
	// otherwise find it empty now and then (killed between WriteFile's
	// create and its write; under qemu-user in most runs) and leave the
	// grandchild running, holding go test's output.
	if err := os.WriteFile(a.PidFile+".tmp", []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(a.PidFile+".tmp", a.PidFile); err != nil {
		return "", err
	}
	slog.Info("grandchild holds the pipes", "grandchild", pid)
	if a.Block {
		<-ctx.Done()
	}
	return "result", nil
})

// killGrandchild kills the process whose pid holdsPipes wrote to path.
func killGrandchild(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return // no grandchild was started
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil || pid <= 1 {
		// A grandchild this test cannot kill outlives the test binary
		// and holds go test's output ("Test I/O incomplete").
		t.Errorf("grandchild's pid file %q: %v %v", b, err, perr)
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// A child's result, its log records and its exit reach the parent although a
// grandchild holds the response and log pipes open: reap reads them to EOF
// or for pipeGrace after the child's exit, not until every copy is closed.
// (CI under qemu-user: a grandchild whose fork stalled before exec held the
// response pipe, and Close waited on the reap for good.)
func TestGrandchildHoldingPipesDoesNotStallReap(t *testing.T) {
	pidFile := t.TempDir() + "/grandchild"
	t.Cleanup(func() { killGrandchild(t, pidFile) })
	logs := newCollector()
	p, err := holdsPipes.Start(ctxT(t), heldArg{PidFile: pidFile}, spawn.ForwardLogs(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got, err := p.Wait(ctxT(t))
	if err != nil {
		t.Fatalf("Wait: %v (a grandchild holding the pipes stalls the reap)", err)
	}
	if got != "result" {
		t.Fatalf("result %q, want %q", got, "result")
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(*logs.recs) != 1 || (*logs.recs)[0].Message != "grandchild holds the pipes" {
		t.Fatalf("the child's log record was lost: %v", *logs.recs)
	}
}

// Close kills a child and returns although a grandchild holds its pipes.
func TestCloseReturnsWhenGrandchildHoldsPipes(t *testing.T) {
	pidFile := t.TempDir() + "/grandchild"
	t.Cleanup(func() { killGrandchild(t, pidFile) })
	p, err := holdsPipes.Start(ctxT(t), heldArg{PidFile: pidFile, Block: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		select {
		case <-p.Done():
			t.Fatal("child exited before it forked the grandchild")
		case <-ctxT(t).Done():
			t.Fatal("grandchild not started")
		case <-time.After(5 * time.Millisecond):
		}
	}
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return in 20 s: it waits for the pipes a grandchild holds")
	}
	if code, _ := p.ExitCode(); code != -9 {
		t.Fatalf("exit code %d, want -9", code)
	}
}
