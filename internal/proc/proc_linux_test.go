package proc

import (
	"os"
	"os/exec"
	"testing"
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

func TestParseStartTimeOddCommand(t *testing.T) {
	line := []byte("42 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 20 21")
	got, err := parseStartTime(line)
	if err != nil || got != 777 {
		t.Fatalf("parseStartTime = %d, %v; want 777", got, err)
	}
}
