//go:build linux

package faults_test

import (
	"os"
	"syscall"
)

// killPid sends SIGKILL to pid.
func killPid(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer p.Release() // FindProcess opens a pidfd on Linux: give it back now, not at a GC
	return p.Signal(syscall.SIGKILL)
}
