package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSelfAlive(t *testing.T) {
	id := Self()
	if int(id.Pid) != os.Getpid() || id.Start == 0 {
		t.Fatalf("Self() = %+v", id)
	}
	if !Alive(id) {
		t.Fatal("Alive(Self()) = false")
	}
	if Alive(ID{Pid: id.Pid, Start: id.Start + 1}) {
		t.Fatal("a reused pid (other start time) was reported alive")
	}
	if st, err := StartTime(int(id.Pid)); err != nil || st != id.Start {
		t.Fatalf("StartTime(self) = %d, %v; Self().Start = %d", st, err, id.Start)
	}
}

func TestDeadChild(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip("no true(1):", err)
	}
	start, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := ID{Pid: int32(cmd.Process.Pid), Start: start}
	cmd.Wait()
	if Alive(id) {
		t.Fatal("reaped child reported alive")
	}
}

const helperEnv = "FORKLESS_PROC_TEST_HELPER"

// TestHelperProcess is the child of TestSelfAgreesAcrossProcesses: it
// prints its own Self().Start and what it reads as its parent's start time
// and liveness, then waits for its stdin to close.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process only")
	}
	ppid := os.Getppid()
	pst, err := StartTime(ppid)
	parentStart, _ := strconv.ParseUint(os.Getenv(helperEnv+"_START"), 10, 64)
	fmt.Printf("child %d %d parent %d %v %v\n", os.Getpid(), Self().Start, pst, err,
		Alive(ID{Pid: int32(ppid), Start: parentStart}))
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// TestSelfAgreesAcrossProcesses checks that the start time a process
// records for itself is the one other processes read for it, both ways.
// Under qemu-user they differed (the emulator serves its own
// /proc/self/stat), and every other process took the recorder for dead.
func TestSelfAgreesAcrossProcesses(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperEnv+"_START="+strconv.FormatUint(Self().Start, 10))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v (read %q)", err, line)
	}
	var pid int
	var selfStart, parentStart uint64
	var perr, palive string
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "child %d %d parent %d %s %s", &pid, &selfStart, &parentStart, &perr, &palive); err != nil {
		t.Fatalf("child said %q: %v", line, err)
	}
	if pid != cmd.Process.Pid {
		t.Fatalf("child said pid %d, is %d", pid, cmd.Process.Pid)
	}
	seen, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if seen != selfStart {
		t.Errorf("child recorded start time %d for itself; its parent reads %d", selfStart, seen)
	}
	if !Alive(ID{Pid: int32(pid), Start: selfStart}) {
		t.Errorf("parent sees the running child %d (start %d) as dead", pid, selfStart)
	}
	if parentStart != Self().Start || perr != "<nil>" {
		t.Errorf("parent recorded start time %d for itself; its child reads %d (%s)", Self().Start, parentStart, perr)
	}
	if palive != "true" {
		t.Errorf("child sees its running parent as dead")
	}
}

func TestParseStartTimeOddCommand(t *testing.T) {
	line := []byte("42 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 20 21")
	got, err := parseStartTime(line)
	if err != nil || got != 777 {
		t.Fatalf("parseStartTime = %d, %v; want 777", got, err)
	}
}

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		line  string
		state byte
		start uint64
	}{
		// The kernel's line for a zombie whose command has a ") Z" in it.
		{"7 (x) Z (y) Z 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0\n", 'Z', 555},
		// What qemu-user 7.2 serves a process reading its own stat file.
		{"13999 (st) 0 13995 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 30878 0 0 0 0 0 365080610656 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", '0', 30878},
		// Two spaces after the command (tolerated, not counted by offset).
		{"8 (sh)  S 1 8 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", 'S', 99},
	} {
		state, start, err := parseStat([]byte(c.line))
		if err != nil || state != c.state || start != c.start {
			t.Errorf("parseStat(%q) = %q, %d, %v; want %q, %d", c.line, state, start, err, c.state, c.start)
		}
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5 1"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) = nil error", bad)
		}
	}
}

// TestEmulated: .ci/arm64 sets FORKLESS_QEMU=1 when it runs the suite
// under qemu-user.
func TestEmulated(t *testing.T) {
	t.Logf("Emulated() = %v", Emulated())
	if os.Getenv("FORKLESS_QEMU") == "1" && !Emulated() {
		t.Fatal("FORKLESS_QEMU=1 but Emulated() = false")
	}
	if b, err := os.ReadFile(statPath(os.Getpid())); err == nil {
		if f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:]); len(f) <= 20 || string(f[20]) == "0" {
			t.Fatalf("the kernel's stat file for this process has no virtual size: %q", b)
		}
	}
}

// TestStat checks the one-read answer owner.ID.Alive relies on: this
// process's start time and state, a zombie child's, a reaped child's and a
// pid nobody has.
func TestStat(t *testing.T) {
	start, zombie, err := Stat(os.Getpid())
	if err != nil || zombie || start != Self().Start {
		t.Fatalf("Stat(self) = %d, %v, %v; Self().Start = %d", start, zombie, err, Self().Start)
	}
	for _, pid := range []int{0, -1, 1 << 29} { // pid_max is at most 2^22
		if _, _, err := Stat(pid); !errors.Is(err, ErrNoProcess) {
			t.Errorf("Stat(%d): %v, want ErrNoProcess", pid, err)
		}
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep(1):", err)
	}
	pid := cmd.Process.Pid
	childStart, zombie, err := Stat(pid)
	if err != nil || zombie {
		t.Fatalf("Stat(running child) = %d, %v, %v", childStart, zombie, err)
	}
	cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, z, err := Stat(pid)
		if err != nil || st != childStart {
			t.Fatalf("Stat(killed, unreaped child) = %d, %v, %v; start %d", st, z, err, childStart)
		}
		if z {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed child never reads as a zombie")
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Wait()
	if _, _, err := Stat(pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Stat(reaped child): %v, want ErrNoProcess", err)
	}
}
