package event

import (
	"os/exec"
	"testing"
	"time"
)

// TestOnExit: the callback runs promptly when the watched process exits,
// not before, and a process that is not the intended one is reported gone.
func TestOnExit(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	exited := make(chan struct{})
	stop, gone, err := OnExit(cmd.Process.Pid, func() bool { return true }, func() { close(exited) })
	if err != nil || gone {
		t.Fatalf("OnExit = gone %v, %v", gone, err)
	}
	defer stop()
	select {
	case <-exited:
		t.Fatal("callback before the exit")
	case <-time.After(50 * time.Millisecond):
	}
	killed := time.Now()
	cmd.Process.Kill() //nolint:errcheck
	select {
	case <-exited:
		t.Logf("exit seen %v after the kill", time.Since(killed))
	case <-time.After(5 * time.Second):
		t.Fatal("exit not seen within 5 s")
	}
	cmd.Wait() //nolint:errcheck
	if _, gone, err := OnExit(cmd.Process.Pid, func() bool { return true }, func() {}); err == nil && !gone {
		t.Error("a reaped pid is not reported gone")
	}
	if _, gone, err := OnExit(1, func() bool { return false }, func() {}); err == nil && !gone {
		t.Error("a pid that is not the intended process is not reported gone")
	}
}
