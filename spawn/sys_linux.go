package spawn

import (
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// executable is /proc/self/exe, which names this very binary even if its
// file was replaced or removed since it started.
func executable() (string, error) { return "/proc/self/exe", nil }

// Children get SIGKILL when their parent dies. Pdeathsig fires when the OS
// thread that forked the child exits, not the process (golang/go#27505): a
// goroutine that locked its thread and returned would take its thread, and
// every child forked from it, down. So every child is forked from one thread
// that never exits: starter's. (The fork itself checks that the parent did
// not die before Pdeathsig was set: Go's forkAndExecInChild compares
// getppid with the pid it started from.)
func sysProcAttr(pdeathsig bool) *syscall.SysProcAttr {
	if !pdeathsig {
		return &syscall.SysProcAttr{}
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	starts       = make(chan startRequest)
	startStarter sync.Once // the thread is made at the first Start: a process that starts no child does without it
)

// starter runs on a locked thread for the life of the process, so that
// thread never exits and never fires its children's Pdeathsig.
func starter() {
	runtime.LockOSThread()
	for req := range starts {
		req.done <- req.cmd.Start()
	}
}

func startCommand(cmd *exec.Cmd) error {
	startStarter.Do(func() { go starter() })
	done := make(chan error, 1)
	starts <- startRequest{cmd, done}
	return <-done
}

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return ps.ExitCode()
}

func closeOnExec(fd int) { syscall.CloseOnExec(fd) }

// raiseTerm sends this process SIGTERM, whose default action is restored.
func raiseTerm() { syscall.Kill(os.Getpid(), syscall.SIGTERM) }

// tryWrite writes what fits of b into the pipe f now, without waiting, and
// returns how much it wrote.
func tryWrite(f *os.File, b []byte) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, err := syscall.Write(int(fd), b[n:])
			if m <= 0 || err != nil {
				break
			}
			n += m
		}
		return true
	})
	return n
}
