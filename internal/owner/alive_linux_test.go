package owner

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
)

func selfWord(t *testing.T) Word {
	t.Helper()
	me, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	return me
}

func TestAlive(t *testing.T) {
	me := selfWord(t)
	if !Alive(me) || !Alive(me|Waiters) {
		t.Error("this process is not alive")
	}
	if !Alive(0) {
		t.Error("no holder counts as dead")
	}
	// pid_max is at most 2^22 on Linux: a larger pid exists nowhere.
	if Alive(ID{Pid: 1 << 29, Start: me.ID().Start}.Word()) {
		t.Error("a pid beyond pid_max is alive")
	}
	// Our own pid with another start time: an earlier process that had it.
	if Alive(me + 1<<32) {
		t.Error("a holder with our pid but another start time counts as alive")
	}
	ppid := os.Getppid()
	st, err := proc.StartTime(ppid)
	if err != nil {
		t.Skip("no start time for the parent:", err)
	}
	if !Alive(ID{Pid: int32(ppid), Start: uint32(st)}.Word()) {
		t.Error("the parent process counts as dead")
	}
}

func startChild(t *testing.T, name string, args ...string) (*exec.Cmd, Word) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start", name, err)
	}
	st, err := proc.StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, ID{Pid: int32(cmd.Process.Pid), Start: uint32(st)}.Word()
}

func TestAliveDeadAndZombie(t *testing.T) {
	cmd, w := startChild(t, "sleep", "10")
	if !Alive(w) {
		t.Fatal("a running child counts as dead")
	}
	cmd.Process.Kill()
	// Until it is reaped the child is a zombie: dead all the same.
	deadline := time.Now().Add(5 * time.Second)
	for !isZombie(cmd.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if Alive(w) {
		t.Error("a zombie counts as alive")
	}
	cmd.Wait()
	if Alive(w) {
		t.Error("a reaped child counts as alive")
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// TestAliveCorruptWord: a word that is not zero but names pid 0 (a stray
// write, or a waiters bit with no holder) names no process: dead, so that
// a waiter takes the lock over instead of waiting for ever.
func TestAliveCorruptWord(t *testing.T) {
	for _, w := range []Word{Waiters, Word(7) << 32, ID{Pid: 0, Start: 5}.Word() | Waiters} {
		if Alive(w) {
			t.Errorf("Alive(%#x) = true for a word naming pid 0", uint64(w))
		}
	}
	if (ID{Pid: -3, Start: 1}).Alive() {
		t.Error("a negative pid is alive")
	}
}
