//go:build !linux

package spawn

import (
	"os"
	"os/exec"
	"syscall"
)

func executable() (string, error) { return os.Executable() }

// sysProcAttr sets nothing: outside Linux there is no Pdeathsig, and a child
// relies on the EOF of its request pipe to learn that its parent died.
func sysProcAttr(bool) *syscall.SysProcAttr { return nil }

func startCommand(cmd *exec.Cmd) error { return cmd.Start() }

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return ps.ExitCode()
}

// closeOnExec is a no-op here: regions cannot be made on these systems, so
// a child has nothing to keep from its own children.
func closeOnExec(fd int) {}

// raiseTerm exits as a shell reports death by SIGTERM where signals cannot
// be sent to oneself portably.
func raiseTerm() { os.Exit(128 + 15) }

// tryWrite writes nothing ahead: the request is written after the start
// (but for its header: see startLocked).
func tryWrite(f *os.File, b []byte) int { return 0 }
