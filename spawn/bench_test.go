//go:build unix

package spawn_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

var noop = spawn.Register("spawn.noop", func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, nil })

// execNoop runs the same binary doing nothing: TestMain exits at once when
// SPAWN_TEST_NOOP is set, before spawn.Main. It is the floor that Start
// cannot beat: an exec and a Go runtime start-up.
func execNoop(b *testing.B) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), "SPAWN_TEST_NOOP=1")
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
}

// pythonStart runs bench/python/spawn_start.py: b.N rounds of batch
// children started with Python's start method and joined, and reports the
// time per round that the script measured.
func pythonStart(method string, batch int) func(b *testing.B) {
	return func(b *testing.B) {
		py, err := exec.LookPath("python3")
		if err != nil {
			b.Skip("python3 not found")
		}
		script, _ := filepath.Abs("../bench/python/spawn_start.py")
		out, err := exec.Command(py, script, method, strconv.Itoa(b.N), strconv.Itoa(batch)).Output()
		if err != nil {
			b.Fatalf("%s: %v", script, err)
		}
		ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			b.Fatalf("%s printed %q", script, out)
		}
		b.ReportMetric(ns, "ns/op")
	}
}

// BenchmarkStartExit: one child started and waited for, start to exit.
func BenchmarkStartExit(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=spawn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := noop.Run(ctx, struct{}{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=exec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			execNoop(b)
		}
	})
	b.Run("impl=paired", pairedBench(1))
	b.Run("impl=python-fork", pythonStart("fork", 1))
	b.Run("impl=python-spawn", pythonStart("spawn", 1))
}

// BenchmarkStart16: 16 children started at once, then all waited for.
func BenchmarkStart16(b *testing.B) {
	const n = 16
	ctx := context.Background()
	b.Run("impl=spawn", func(b *testing.B) {
		b.ReportAllocs()
		ps := make([]*spawn.Process[struct{}], n)
		for b.Loop() {
			for i := range ps {
				p, err := noop.Start(ctx, struct{}{})
				if err != nil {
					b.Fatal(err)
				}
				ps[i] = p
			}
			for _, p := range ps {
				if _, err := p.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/child")
	})
	b.Run("impl=exec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var wg sync.WaitGroup
			cmds := make([]*exec.Cmd, n)
			for i := range cmds {
				cmds[i] = exec.Command("/proc/self/exe")
				cmds[i].Env = append(os.Environ(), "SPAWN_TEST_NOOP=1")
				if err := cmds[i].Start(); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range cmds {
				wg.Go(func() { c.Wait() })
			}
			wg.Wait()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/child")
	})
	b.Run("impl=python-fork", pythonStart("fork", n))
	b.Run("impl=python-spawn", pythonStart("spawn", n))
	b.Run("impl=paired", pairedBench(n))
}

// pyServer is bench/python/spawn_start.py in its serve mode: one Python
// process that runs a round of starts whenever asked.
type pyServer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPyServer(b *testing.B) *pyServer {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	script, _ := filepath.Abs("../bench/python/spawn_start.py")
	cmd := exec.Command(py, script, "serve")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &pyServer{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	return s
}

func (s *pyServer) round(b *testing.B, method string, batch int) time.Duration {
	fmt.Fprintf(s.in, "%s %d\n", method, batch)
	if !s.out.Scan() {
		b.Fatalf("python server: %v", s.out.Err())
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(s.out.Text()), 10, 64)
	if err != nil {
		b.Fatalf("python server printed %q", s.out.Text())
	}
	return time.Duration(ns)
}

// pairedBench runs, in every iteration, one round of each contender
// starting batch children and waiting for them all: spawn, exec of the same
// binary, and Python's fork and spawn start methods (through one Python
// process kept running, so its start-up is not counted). Timed apart but
// side by side, under the same load at the same moment, the ratios stay
// steady on a shared machine whose speed drifts. The CPU time the children
// used (getrusage of reaped children) and the parent's own are reported
// too: they hardly depend on the load, while wall times on an overloaded
// machine mostly measure how long each wake-up waits for a CPU. Python's spawn method runs every 4th iteration only, for time.
func pairedBench(batch int) func(b *testing.B) {
	return func(b *testing.B) {
		ctx := context.Background()
		py := startPyServer(b)
		var tSpawn, tExec, tFork, tPySpawn, cSpawn, cExec, sSpawn, sExec time.Duration
		nPySpawn := 0
		ps := make([]*spawn.Process[struct{}], batch)
		cmds := make([]*exec.Cmd, batch)
		i := 0
		for b.Loop() {
			c0, s0 := cpuTimes()
			t0 := time.Now()
			for j := range ps {
				p, err := noop.Start(ctx, struct{}{})
				if err != nil {
					b.Fatal(err)
				}
				ps[j] = p
			}
			for _, p := range ps {
				if _, err := p.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			t1 := time.Now()
			c1, s1 := cpuTimes()
			for j := range cmds {
				cmds[j] = exec.Command("/proc/self/exe")
				cmds[j].Env = append(os.Environ(), "SPAWN_TEST_NOOP=1")
				if err := cmds[j].Start(); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range cmds {
				if err := c.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			t2 := time.Now()
			c2, s2 := cpuTimes()
			tSpawn += t1.Sub(t0)
			tExec += t2.Sub(t1)
			cSpawn += c1 - c0
			cExec += c2 - c1
			sSpawn += s1 - s0
			sExec += s2 - s1
			if py != nil {
				tFork += py.round(b, "fork", batch)
				if i%4 == 0 {
					tPySpawn += py.round(b, "spawn", batch)
					nPySpawn++
				}
			}
			i++
		}
		n := float64(b.N)
		per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / n }
		b.ReportMetric(per(tSpawn), "spawn-ns/op")
		b.ReportMetric(per(tExec), "exec-ns/op")
		b.ReportMetric(float64(tSpawn)/float64(tExec), "spawn/exec")
		b.ReportMetric(per(cSpawn)/float64(batch), "spawn-child-cpu-ns/child")
		b.ReportMetric(per(cExec)/float64(batch), "exec-child-cpu-ns/child")
		b.ReportMetric(per(sSpawn)/float64(batch), "spawn-parent-cpu-ns/child")
		b.ReportMetric(per(sExec)/float64(batch), "exec-parent-cpu-ns/child")
		// All the CPU a start costs, parent and child: steady under load.
		b.ReportMetric(float64(cSpawn+sSpawn)/float64(cExec+sExec), "cpu-spawn/exec")
		if py != nil {
			b.ReportMetric(per(tFork), "pyfork-ns/op")
			b.ReportMetric(float64(tSpawn)/float64(tFork), "spawn/pyfork")
			b.ReportMetric(float64(tPySpawn.Nanoseconds())/float64(nPySpawn), "pyspawn-ns/op")
			b.ReportMetric(float64(tSpawn)/n/(float64(tPySpawn)/float64(nPySpawn)), "spawn/pyspawn")
		}
	}
}

// cpuTimes returns the user+system CPU time of this process's reaped
// children and of this process itself.
func cpuTimes() (children, self time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return children, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
