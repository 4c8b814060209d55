package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
)

// envBusy makes the report's own binary a busy loop: the loaded passes
// start it several times (re-executing themselves) and kill it after.
const envBusy = "FORKLESS_REPORT_BUSY"

// busyLoop spins on one core until its parent (the report) is gone, checking
// once every few tens of milliseconds: a report killed without cleaning up
// leaves no spinning orphans behind.
func busyLoop() {
	ppid := os.Getppid()
	x := uint64(1)
	for i := 0; ; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if i%(1<<22) == 0 && os.Getppid() != ppid {
			os.Exit(int(x & 0))
		}
	}
}

// startBusy starts n busy-loop processes and returns a function that kills
// and reaps them.
func startBusy(n int) (stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start busy loops: %w", err)
	}
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Kill()
		}
		for _, c := range cmds {
			c.Wait()
		}
	}
	for range n {
		c := exec.Command(exe)
		c.Env = append(os.Environ(), envBusy+"=1")
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start busy loops: %w", err)
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// busyUntilInterrupted runs n busy loops until the report is interrupted.
func busyUntilInterrupted(n int) error {
	stop, err := startBusy(n)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(os.Stderr, "report: %d busy loops running; Ctrl-C ends them\n", n)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	return nil
}
