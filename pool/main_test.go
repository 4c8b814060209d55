package pool_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forkless-go/forkless/spawn"
)

func TestMain(m *testing.M) {
	// A binary that exits before it attaches, as one that does not call
	// spawn.Main would (TestBrokenBinaryBreaksPool).
	if os.Getenv("POOL_TEST_EXIT_AT_START") != "" {
		os.Exit(3)
	}
	spawn.Main()
	code := m.Run()
	// No test may leave a worker behind, running or zombie.
	if kids := childrenOf(os.Getpid()); len(kids) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: children left behind after the tests: %v\n", kids)
		for _, c := range spawn.ActiveChildren() {
			fmt.Fprintf(os.Stderr, "\t%s pid %d running %s\n", c.Name(), c.Pid(), c.Func())
		}
		code = 1
	}
	os.Exit(code)
}

// childrenOf lists the processes whose parent is pid, with their state
// letter ("1234 S"), read from /proc (none where there is no /proc).
func childrenOf(pid int) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+" "+f[0])
		}
	}
	return out
}

// freshName makes a name no other Register call of the test binary uses:
// tests that register inside a function may run more than once (-count).
func freshName(base string) string { return fmt.Sprintf("%s.%d", base, nameSeq.Add(1)) }

var nameSeq atomic.Int64
