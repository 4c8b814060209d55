package spawn_test

import (
	"context"
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

var noop = spawn.Register(func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, nil })

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
	// Both in turn, timed apart: on a shared machine whose speed drifts,
	// this ratio is steadier than the ratio of two separate runs. The CPU
	// time the children used (getrusage of reaped children) and the
	// parent's own are reported too: they hardly depend on the load.
	b.Run("impl=paired", func(b *testing.B) {
		var tSpawn, tExec time.Duration
		var cSpawn, cExec, pSpawn, pExec time.Duration
		for b.Loop() {
			c0, s0 := cpuTimes()
			t0 := time.Now()
			if _, err := noop.Run(ctx, struct{}{}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			c1, s1 := cpuTimes()
			execNoop(b)
			t2 := time.Now()
			c2, s2 := cpuTimes()
			tSpawn += t1.Sub(t0)
			tExec += t2.Sub(t1)
			cSpawn += c1 - c0
			cExec += c2 - c1
			pSpawn += s1 - s0
			pExec += s2 - s1
		}
		n := float64(b.N)
		b.ReportMetric(float64(tSpawn.Nanoseconds())/n, "spawn-ns/op")
		b.ReportMetric(float64(tExec.Nanoseconds())/n, "exec-ns/op")
		b.ReportMetric(float64(tSpawn)/float64(tExec), "spawn/exec")
		b.ReportMetric(float64(cSpawn.Nanoseconds())/n, "spawn-child-cpu-ns/op")
		b.ReportMetric(float64(cExec.Nanoseconds())/n, "exec-child-cpu-ns/op")
		b.ReportMetric(float64(pSpawn.Nanoseconds())/n, "spawn-parent-cpu-ns/op")
		b.ReportMetric(float64(pExec.Nanoseconds())/n, "exec-parent-cpu-ns/op")
	})
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
