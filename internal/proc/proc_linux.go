package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// selfPid is the calling process's pid. A Go process never forks without
// exec, so it cannot change.
var selfPid = os.Getpid()

var selfOnce = sync.OnceValue(func() ID {
	start, err := StartTime(selfPid)
	if err != nil {
		// /proc is missing (a very bare container): identify by pid alone.
		start = 0
	}
	return ID{Pid: int32(selfPid), Start: start}
})

func self() ID { return selfOnce() }

// statPath names the kernel's stat file for pid.
//
// For the calling process it is /proc/PID/task/PID/stat, the stat file of
// the main thread, which holds the same start time as /proc/PID/stat. The
// reason is a user-mode emulator: qemu-user (which runs, say, an arm64
// binary on an amd64 machine) intercepts a process's opens of its own
// /proc/self/stat and /proc/PID/stat and serves a file it writes itself,
// with state "0" and, as start time, the moment the emulator started, some
// ticks after the kernel started the process. Every other process reads the
// kernel's file, so with the emulated start time this process would look to
// them like a later process reusing a dead one's pid: dead, its locks and
// slots free to take. qemu does not intercept the task file. On real
// hardware the two files agree and the choice costs nothing.
func statPath(pid int) string {
	p := strconv.Itoa(pid)
	if pid == selfPid {
		return "/proc/" + p + "/task/" + p + "/stat"
	}
	return "/proc/" + p + "/stat"
}

// emulated: see Emulated. Field 23 (vsize) of the stat file as this process
// sees it, at the path an emulator intercepts, is 0.
var emulated = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(b[i+1:])
	return len(f) > 20 && string(f[20]) == "0" // fields[0] is field 3
})

// readStat reads the kernel's stat line for pid.
func readStat(pid int) ([]byte, error) {
	b, err := os.ReadFile(statPath(pid))
	if err != nil && pid == selfPid {
		// No task directory (an unusual /proc): the process's own file.
		b, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	}
	return b, err
}

// StartTime returns the start time of pid in clock ticks since boot, as the
// kernel reports it to every process (also under an emulator, see statPath).
func StartTime(pid int) (uint64, error) {
	start, _, err := Stat(pid)
	return start, err
}

// Stat reads pid's stat line once and returns its start time (as StartTime)
// and whether its state is one the kernel writes for a process that is dead
// but not yet reaped ('Z', zombie) or being reaped ('X'). Any other state,
// also one an emulator made up, is not dead. The error wraps ErrNoProcess
// when no process has the pid (never had, or was reaped).
func Stat(pid int) (start uint64, zombie bool, err error) {
	if pid <= 0 {
		return 0, false, fmt.Errorf("read stat of pid %d: %w", pid, ErrNoProcess)
	}
	b, err := readStat(pid)
	if err != nil {
		// ENOENT: no such pid. ESRCH: the process was reaped between the
		// open and the read.
		if os.IsNotExist(err) || errors.Is(err, syscall.ESRCH) {
			return 0, false, fmt.Errorf("read stat of pid %d: %w", pid, ErrNoProcess)
		}
		return 0, false, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	state, start, err := parseStat(b)
	if err != nil {
		return 0, false, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	return start, state == 'Z' || state == 'X', nil
}

// parseStartTime extracts field 22 of a /proc/PID/stat line.
func parseStartTime(stat []byte) (uint64, error) {
	_, start, err := parseStat(stat)
	return start, err
}

// parseStat extracts the state (field 3) and the start time (field 22) of a
// /proc/PID/stat line. The second field (the command name) is in
// parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')', and by whitespace, not by byte offsets. The
// state is returned as found: an emulator may write a state the kernel
// never does ("0").
func parseStat(stat []byte) (state byte, start uint64, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc stat: no command field")
	}
	fields := bytes.Fields(stat[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc stat: %d fields", len(fields)+2)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc stat: start time: %w", err)
	}
	return fields[0][0], start, nil
}

// Alive reports whether the process named by id still runs (a zombie counts
// as dead: it will never release anything). A pid that now belongs to a
// process with another start time is dead too.
//
// Only a state the kernel writes for a dead process ('Z', 'X') counts as
// dead; any other state, including one an emulator made up, defers to the
// start time. The calling process's own pid is answered without /proc: it
// runs, so id is alive exactly when it names this process.
func Alive(id ID) bool {
	if id.Pid <= 0 {
		return false
	}
	if int(id.Pid) == selfPid {
		s := self().Start
		return id.Start == 0 || s == 0 || id.Start == s
	}
	start, zombie, err := Stat(int(id.Pid))
	if err != nil {
		return !errors.Is(err, ErrNoProcess) // unsure: assume alive rather than steal a live lock
	}
	return !zombie && (id.Start == 0 || start == id.Start)
}
