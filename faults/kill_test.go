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
	return p.Signal(syscall.SIGKILL)
}
