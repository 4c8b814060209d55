//go:build linux

// Package examples holds no code of its own: its test builds every example
// program, runs it with a time limit and checks what it printed, so that
// none of them rots.
package examples

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// example is how one program is run and what its output must hold: every
// regexp must match (multi-line mode).
type example struct {
	args  []string
	stdin string
	want  []string
}

var examples = map[string]example{
	"counter-lock": {want: []string{
		`with the lock: +5 processes × 1000000 adds = 5000000 \(want 5000000\)`,
		`without the lock: +5 processes × 1000000 adds = \d+ \(updates lost: \d+\)`}},
	"first":          {want: []string{`^10 \[0 1 4 9 16 25 36 49 64 81\]$`}},
	"game-server":    {want: []string{`^listening on 127\.0\.0\.1:\d+$`, `^game-1 \(pid \d+\): won in \d tries$`, `^game-3 \(pid \d+\): won in \d tries$`}},
	"many-workers":   {want: []string{`\[Process-1\] I am Process-1, pid \d+`, `Process-2 \(pid \d+\): \d+ primes, exit code 0`, `all joined in`}},
	"prime-tester":   {stdin: "7 8 9\n11\n", want: []string{`^7 is prime`, `^8 is not prime: 2 × 4`, `4 numbers tested in 4 processes, 2 prime`}},
	"queue-hello":    {want: []string{`^hello$`}},
	"queue-squares":  {want: []string{`^3\.328335e\+08 <nil>$`}},
	"shared-array":   {args: []string{}, want: []string{`all 20000000 elements check out`}},
	"shared-counter": {want: []string{`^2000$`}},
	"spsc-ticks":     {want: []string{`^received 64000 ticks$`}},
	"worker-arg":     {want: []string{`^Worker: 0$`, `^Worker: 4$`}},
	// The pool engineer's examples.
	"pool-as-completed": {want: []string{`^task 0: 0$`, `^unordered: \[`}},
	"pool-chunk-means":  {want: []string{`^\[0 1 2 3 4 5 6 7\]$`}},
	"pool-cpucount":     {want: []string{`^\d+ CPUs, \d+ workers, 8 tasks`, `done 8, failed 0`, `\r\[#{24}\] \d+/\d+ items \(100\.0%\)`}},
	"pool-fetch":        {want: []string{`^/a +222 bytes +"page /a"$`, `1 of 5 items failed`}},
	"pool-squares":      {want: []string{`^\[0 1 4 9 16 25 36 49 64 81\]$`}},
	"pool-starmap":      {want: []string{`^\[2 12 30\]$`, `^\[10 4 10\]$`}},
}

var build struct {
	sync.Once
	dir string
	out []byte
	err error
}

// binaries builds every example once, into a directory of the test's.
func binaries(t *testing.T) string {
	build.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "forkless-examples-")
		if build.err == nil {
			cmd := exec.Command("go", "build", "-o", build.dir+string(os.PathSeparator), "./...")
			build.out, build.err = cmd.CombinedOutput()
		}
	})
	if build.err != nil {
		t.Fatalf("go build ./...: %v\n%s", build.err, build.out)
	}
	return build.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

func TestExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example")
	}
	dirs, err := filepath.Glob("*/main.go")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	bin := binaries(t)
	for _, d := range dirs {
		name := filepath.Dir(d)
		ex, ok := examples[name]
		if !ok {
			t.Errorf("%s: no entry in examples: say what its output must hold", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, name), ex.args...)
			cmd.Stdin = strings.NewReader(ex.stdin)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, out)
			}
			for _, w := range ex.want {
				if !regexp.MustCompile("(?m)" + w).Match(out) {
					t.Errorf("%s: output lacks %q:\n%s", name, w, out)
				}
			}
			if name == "counter-lock" && runtime.NumCPU() >= 2 {
				m := regexp.MustCompile(`updates lost: (\d+)`).FindSubmatch(out)
				if n, _ := strconv.Atoi(string(m[1])); n == 0 {
					t.Errorf("counter-lock lost no update without the lock on %d CPUs:\n%s", runtime.NumCPU(), out)
				}
			}
		})
	}
}

// TestGameServer drives examples/game-server with 10 concurrent players:
// each connection is served by a process of its own, and every game ends.
func TestGameServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the examples")
	}
	bin := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const players = 10
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "game-server"), "-addr", "127.0.0.1:0", "-games", strconv.Itoa(players))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	if !out.Scan() || !strings.HasPrefix(out.Text(), "listening on ") {
		t.Fatalf("first line %q", out.Text())
	}
	addr := strings.TrimPrefix(out.Text(), "listening on ")
	pids := make(chan string, players)
	var wg sync.WaitGroup
	for range players {
		wg.Go(func() {
			line, err := play(addr)
			if err != nil {
				t.Error(err)
				return
			}
			m := regexp.MustCompile(`^correct after \d+ tries, served by pid (\d+)$`).FindStringSubmatch(line)
			if m == nil {
				t.Errorf("last line %q", line)
				return
			}
			pids <- m[1]
		})
	}
	wg.Wait()
	close(pids)
	distinct := map[string]bool{}
	for p := range pids {
		distinct[p] = true
	}
	if len(distinct) != players {
		t.Errorf("%d games served by %d distinct processes", players, len(distinct))
	}
	won := 0
	for out.Scan() {
		if strings.Contains(out.Text(), "won in") {
			won++
		}
	}
	if err := cmd.Wait(); err != nil || won != players {
		t.Fatalf("server: %v, %d games won, want %d", err, won, players)
	}
}

// play is a player that guesses by bisection; it returns the server's last
// line.
func play(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	in := bufio.NewScanner(conn)
	lo, hi := 1, 100
	for in.Scan() {
		switch line := in.Text(); {
		case strings.HasPrefix(line, "correct"):
			return line, nil
		case line == "higher":
			lo = (lo+hi)/2 + 1
		case line == "lower":
			hi = (lo+hi)/2 - 1
		}
		fmt.Fprintf(conn, "%d\n", (lo+hi)/2)
	}
	return "", fmt.Errorf("server left: %v", in.Err())
}
