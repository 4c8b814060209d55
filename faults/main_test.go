//go:build linux

package faults_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/spawn"
)

var (
	update = flag.Bool("update", false, "rewrite the generated section of ../docs/reliability.md")
	seedF  = flag.Uint64("seed", 0, "random seed (0: from the clock); logged by every scenario")
)

var (
	rowsMu sync.Mutex
	rows   []faults.Row
)

func TestMain(m *testing.M) {
	spawn.Main()
	flag.Parse()
	warmUp()
	start := time.Now()
	code := m.Run()
	rowsMu.Lock()
	defer rowsMu.Unlock()
	if len(rows) == 0 {
		os.Exit(code)
	}
	ctx := fmt.Sprintf("Run of %s: budget %s (FORKLESS_SOAK=%q), %s, %d CPUs, load %s, took %s.",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), soak(), os.Getenv("FORKLESS_SOAK"),
		runtime.Version(), runtime.NumCPU(), loadavg(), time.Since(start).Round(time.Second))
	table := faults.Render(rows, ctx)
	fmt.Println(table)
	if *update && code == 0 {
		if err := rewrite(table); err != nil {
			fmt.Fprintln(os.Stderr, "faults: -update:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func rewrite(table string) error {
	const path = "../docs/reliability.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	gen, err := os.ReadFile("testdata/guarantees.md")
	if err != nil {
		return err
	}
	out, err := faults.ReplaceSection(string(doc), "## The fault harness (generated)\n\n"+string(gen)+"\n"+table+fuzzTable())
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// fuzzTable is testdata/fuzz.md, the record of the last long fuzz run.
func fuzzTable() string {
	b, err := os.ReadFile("testdata/fuzz.md")
	if err != nil {
		return ""
	}
	return "\n" + string(b)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// soak is the whole harness's budget: FORKLESS_SOAK, or a smoke run.
func soak() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK")); err == nil && d > 0 {
		return d
	}
	return 0
}

// scenarios counts the scenarios that share the soak budget.
const scenarios = 35

// budget is one scenario's running time: its share of FORKLESS_SOAK, at
// least 400 ms; 400 ms in a plain run.
func budget() time.Duration {
	if d := soak() / scenarios; d > 400*time.Millisecond {
		return d
	}
	return 400 * time.Millisecond
}

// rng returns a scenario's random source, logging its seed.
func rng(t *testing.T) *rand.Rand {
	seed := *seedF
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -args -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// record adds a scenario's row to the table and fails the test if the row
// breaks a guarantee.
func record(t *testing.T, r faults.Row) {
	t.Helper()
	rowsMu.Lock()
	rows = append(rows, r)
	rowsMu.Unlock()
	t.Logf("%+v", r)
	if r.Failed() {
		t.Errorf("%s: lost %d (bound %d), dup %d, torn %d, hangs %d, crashes %d, files %d, fds %d, goroutines %d, zombies %d: %s",
			r.Scenario, r.Lost, r.Bound, r.Dup, r.Torn, r.Hangs, r.Crashes, r.Files, r.FDs, r.Gorout, r.Zombies, r.Note)
	}
}

// snapshot is what a scenario must leave as it found it.
type snapshot struct {
	files map[string]bool
	fds   int
	gor   int
}

func takeSnapshot() snapshot {
	return snapshot{files: shmFiles(), fds: countFDs(), gor: runtime.NumGoroutine()}
}

// leaks fills the leak columns of r: files, descriptors and goroutines
// beyond s (goroutines get two seconds to finish), and zombie children.
func (s snapshot) leaks(r *faults.Row) {
	for name := range shmFiles() {
		if !s.files[name] {
			r.Files++
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > s.gor && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // goroutines end on their own; nothing to wait on
	}
	r.Gorout = max(0, runtime.NumGoroutine()-s.gor)
	deadline = time.Now().Add(2 * time.Second)
	for countFDs() > s.fds && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.FDs = max(0, countFDs()-s.fds)
	r.Zombies = len(children(os.Getpid(), "Z"))
}

func shmFiles() map[string]bool {
	m := map[string]bool{}
	ents, _ := os.ReadDir("/dev/shm")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "forkless") {
			m[e.Name()] = true
		}
	}
	return m
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// children lists the pids whose parent is pid, in one of the states
// (every state when none is given), read from /proc.
func children(pid int, states ...string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
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
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		if len(states) == 0 || contains(states, f[0]) {
			out = append(out, n)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var noop = spawn.Register("faults.noop", func(context.Context, int) (int, error) { return 0, nil })

// warmUp starts the package-level helpers (spawn's reaper and the like)
// once, so that no scenario counts them as its leaks.
func warmUp() {
	if _, err := noop.Run(context.Background(), 0); err != nil {
		fmt.Fprintln(os.Stderr, "faults: warm-up child:", err)
	}
}

// recordExpected records a row whose failure is a documented
// non-guarantee (its note says which): it is reported, not failed.
func recordExpected(t *testing.T, r faults.Row, why string) {
	t.Helper()
	r.Note = strings.TrimPrefix(r.Note+"; not guaranteed: "+why, "; ")
	rowsMu.Lock()
	rows = append(rows, r)
	rowsMu.Unlock()
	t.Logf("%+v", r)
}
