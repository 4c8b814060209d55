package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
)

var selfOnce = sync.OnceValue(func() ID {
	pid := os.Getpid()
	start, err := StartTime(pid)
	if err != nil {
		// /proc is missing (a very bare container): identify by pid alone.
		start = 0
	}
	return ID{Pid: int32(pid), Start: start}
})

func self() ID { return selfOnce() }

// StartTime returns the start time of pid in clock ticks since boot.
func StartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if os.IsNotExist(err) {
			return 0, fmt.Errorf("read start time of pid %d: %w", pid, ErrNoProcess)
		}
		return 0, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	return parseStartTime(b)
}

// parseStartTime extracts field 22 of a /proc/PID/stat line. The second field
// (the command name) is in parentheses and may itself hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat: no command field")
	}
	fields := bytes.Fields(stat[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc stat: %d fields", len(fields)+2)
	}
	return strconv.ParseUint(string(fields[19]), 10, 64)
}

// Alive reports whether the process named by id still runs (a zombie counts
// as dead: it will never release anything). A pid that now belongs to a
// process with another start time is dead too.
func Alive(id ID) bool {
	if id.Pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(id.Pid)) + "/stat")
	if err != nil {
		return !os.IsNotExist(err) // unsure: assume alive rather than steal a live lock
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
		return false
	}
	start, err := parseStartTime(b)
	if err != nil {
		return true
	}
	return id.Start == 0 || start == id.Start
}
