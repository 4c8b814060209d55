package sync_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// Benchmarks, each beside its baselines in the same run:
//
//	go test ./sync -run '^$' -bench . -count 5
//
// Cross-process figures run the loop in this process and in one child started
// through spawn; the child's start-up is outside the timed part.

// ---------------------------------------------------------------------------
// Uncontended lock and unlock.

func BenchmarkLockUnlock(b *testing.B) {
	r := region(b)
	b.Run("impl=forkless.Mutex", func(b *testing.B) {
		m := must[*fsync.Mutex](b)(fsync.NewMutex(r))
		b.ReportAllocs()
		for b.Loop() {
			m.Lock()
			m.Unlock()
		}
	})
	b.Run("impl=sync.Mutex", func(b *testing.B) {
		var m gosync.Mutex
		b.ReportAllocs()
		for b.Loop() {
			m.Lock()
			m.Unlock()
		}
	})
	b.Run("impl=forkless.RLock", func(b *testing.B) {
		l := must[*fsync.RLock](b)(fsync.NewRLock(r))
		b.ReportAllocs()
		for b.Loop() {
			l.Lock()
			l.Unlock()
		}
	})
	b.Run("impl=forkless.RWMutex.RLock", func(b *testing.B) {
		rw := must[*fsync.RWMutex](b)(fsync.NewRWMutex(r))
		b.ReportAllocs()
		for b.Loop() {
			rw.RLock()
			rw.RUnlock()
		}
	})
	b.Run("impl=sync.RWMutex.RLock", func(b *testing.B) {
		var rw gosync.RWMutex
		b.ReportAllocs()
		for b.Loop() {
			rw.RLock()
			rw.RUnlock()
		}
	})
	b.Run("impl=forkless.Semaphore", func(b *testing.B) {
		s := must[*fsync.Semaphore](b)(fsync.NewSemaphore(r, 1))
		b.ReportAllocs()
		for b.Loop() {
			s.Acquire()
			s.Release()
		}
	})
}

// ---------------------------------------------------------------------------
// Two processes increment one shared counter under the lock.

type counterArg struct {
	Gate          gate
	Lock, Counter shm.Handle
	Done          shm.Handle
	N             int
}

var counterChild = spawn.Register("sync.counterChild", func(ctx context.Context, a counterArg) (int, error) {
	m, err := fsync.OpenMutex(a.Lock)
	if err != nil {
		return 0, err
	}
	c, err := shm.OpenValue[int64](a.Counter)
	if err != nil {
		return 0, err
	}
	done, err := fsync.OpenWaitGroup(a.Done)
	if err != nil {
		return 0, err
	}
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	p := c.Ptr()
	for range a.N {
		m.Lock()
		*p++
		m.Unlock()
	}
	done.Done()
	return 0, nil
})

func BenchmarkCounter2Procs(b *testing.B) {
	b.Run("impl=forkless", func(b *testing.B) {
		r := region(b)
		m := must[*fsync.Mutex](b)(fsync.NewMutex(r))
		c := must[*shm.Value[int64]](b)(shm.NewValue[int64](r))
		done := must[*fsync.WaitGroup](b)(fsync.NewWaitGroup(r))
		done.Add(1)
		g, open := newGate(b, r, 1)
		p, err := counterChild.Start(ctxT(b), counterArg{Gate: g, Lock: m.Handle(), Counter: c.Handle(), Done: done.Handle(), N: b.N}, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Wait(ctxT(b))
		ptr := c.Ptr()
		b.ResetTimer()
		start := time.Now()
		open()
		for range b.N {
			m.Lock()
			*ptr++
			m.Unlock()
		}
		if err := done.WaitContext(ctxT(b)); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		if *ptr != int64(2*b.N) {
			b.Fatalf("counter %d, want %d", *ptr, 2*b.N)
		}
		reportOps(b, el, 2*b.N)
	})
	b.Run("impl=sync.Mutex-2goroutines", func(b *testing.B) {
		var m gosync.Mutex
		var n int64
		var wg gosync.WaitGroup
		start := time.Now()
		for range 2 {
			wg.Go(func() {
				for range b.N {
					m.Lock()
					n++
					m.Unlock()
				}
			})
		}
		wg.Wait()
		reportOps(b, time.Since(start), 2*b.N)
	})
	b.Run("impl=python-Value.get_lock", func(b *testing.B) {
		ns := runPython(b, "sync_lock_counter.py", 50_000)
		b.ReportMetric(ns, "ns/op")
		b.ReportMetric(1e9/ns, "ops/s")
	})
}

// reportOps reports ns per increment and increments per second.
func reportOps(b *testing.B, el time.Duration, ops int) {
	ns := float64(el.Nanoseconds()) / float64(ops)
	b.ReportMetric(ns*float64(ops)/float64(b.N), "ns/op")
	b.ReportMetric(ns, "ns/inc")
	b.ReportMetric(1e9/ns, "ops/s")
}

// ---------------------------------------------------------------------------
// Event ping-pong between two processes: the round trip.

type pingArg struct {
	Gate       gate
	Ping, Pong shm.Handle
	N          int
}

var eventChild = spawn.Register("sync.eventChild", func(ctx context.Context, a pingArg) (int, error) {
	ping, err := fsync.OpenEvent(a.Ping)
	if err != nil {
		return 0, err
	}
	pong, err := fsync.OpenEvent(a.Pong)
	if err != nil {
		return 0, err
	}
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	for range a.N {
		if err := ping.WaitContext(ctx); err != nil {
			return 0, err
		}
		ping.Clear()
		pong.Set()
	}
	return a.N, nil
})

var semChild = spawn.Register("sync.semChild", func(ctx context.Context, a pingArg) (int, error) {
	ping, err := fsync.OpenSemaphore(a.Ping)
	if err != nil {
		return 0, err
	}
	pong, err := fsync.OpenSemaphore(a.Pong)
	if err != nil {
		return 0, err
	}
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	for range a.N {
		if err := ping.AcquireContext(ctx); err != nil {
			return 0, err
		}
		pong.Release()
	}
	return a.N, nil
})

var barrierChild = spawn.Register("sync.barrierChild", func(ctx context.Context, a pingArg) (int, error) {
	br, err := fsync.OpenBarrier(a.Ping)
	if err != nil {
		return 0, err
	}
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	for range a.N {
		if _, err := br.WaitContext(ctx); err != nil {
			return 0, err
		}
	}
	return a.N, nil
})

// rounds times each of b.N rounds and reports the median and 99th
// percentile beside ns/op.
func rounds(b *testing.B, round func() error) {
	lat := make([]time.Duration, 0, min(b.N, 1<<20))
	naps := fsync.Naps()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := round(); err != nil {
			b.Fatal(err)
		}
		if i < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	// Sleeps that ran out their 2 ms timeout: a lost wake-up would show
	// here; on a loaded machine a peer descheduled that long does too.
	b.ReportMetric(float64(fsync.Naps()-naps)/float64(b.N), "naps/op")
}

func BenchmarkEventPingPong(b *testing.B) {
	b.Run("impl=forkless", func(b *testing.B) {
		r := region(b)
		ping := must[*fsync.Event](b)(fsync.NewEvent(r))
		pong := must[*fsync.Event](b)(fsync.NewEvent(r))
		g, open := newGate(b, r, 1)
		p, err := eventChild.Start(ctxT(b), pingArg{Gate: g, Ping: ping.Handle(), Pong: pong.Handle(), N: b.N}, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Wait(ctxT(b))
		open()
		ctx := ctxT(b)
		rounds(b, func() error {
			ping.Set()
			err := pong.WaitContext(ctx)
			pong.Clear()
			return err
		})
	})
	b.Run("impl=os.Pipe", func(b *testing.B) {
		toR, toW, _ := os.Pipe()
		fromR, fromW, _ := os.Pipe()
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envPipeEcho+"=1")
		cmd.ExtraFiles = []*os.File{toR, fromW}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		toR.Close()
		fromW.Close()
		defer func() { toW.Close(); cmd.Wait(); fromR.Close() }()
		buf := make([]byte, 1)
		// One round first, so the child's start-up is not timed.
		toW.Write(buf)
		fromR.Read(buf)
		rounds(b, func() error {
			if _, err := toW.Write(buf); err != nil {
				return err
			}
			_, err := fromR.Read(buf)
			return err
		})
	})
	b.Run("impl=python-Event", func(b *testing.B) {
		b.ReportMetric(runPython(b, "sync_event.py", 5_000), "ns/op")
	})
}

func BenchmarkSemaphorePingPong(b *testing.B) {
	b.Run("impl=forkless", func(b *testing.B) {
		r := region(b)
		ping := must[*fsync.Semaphore](b)(fsync.NewSemaphore(r, 0))
		pong := must[*fsync.Semaphore](b)(fsync.NewSemaphore(r, 0))
		g, open := newGate(b, r, 1)
		p, err := semChild.Start(ctxT(b), pingArg{Gate: g, Ping: ping.Handle(), Pong: pong.Handle(), N: b.N}, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Wait(ctxT(b))
		open()
		ctx := ctxT(b)
		rounds(b, func() error {
			ping.Release()
			return pong.AcquireContext(ctx)
		})
	})
	b.Run("impl=python-Semaphore", func(b *testing.B) {
		b.ReportMetric(runPython(b, "sync_semaphore.py", 5_000), "ns/op")
	})
}

func BenchmarkBarrier2Procs(b *testing.B) {
	b.Run("impl=forkless", func(b *testing.B) {
		r := region(b)
		br := must[*fsync.Barrier](b)(fsync.NewBarrier(r, 2))
		g, open := newGate(b, r, 1)
		p, err := barrierChild.Start(ctxT(b), pingArg{Gate: g, Ping: br.Handle(), N: b.N}, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Wait(ctxT(b))
		open()
		ctx := ctxT(b)
		rounds(b, func() error {
			_, err := br.WaitContext(ctx)
			return err
		})
	})
	b.Run("impl=python-Barrier", func(b *testing.B) {
		b.ReportMetric(runPython(b, "sync_barrier.py", 5_000), "ns/op")
	})
}

// ---------------------------------------------------------------------------
// Baseline helpers.

const envPipeEcho = "FORKLESS_SYNC_PIPE_ECHO"

// pipeEcho is the child of the os.Pipe baseline: it echoes each byte from
// fd 3 to fd 4 until EOF.
func pipeEcho() {
	in, out := os.NewFile(3, "in"), os.NewFile(4, "out")
	buf := make([]byte, 1)
	for {
		if _, err := in.Read(buf); err != nil {
			os.Exit(0)
		}
		if _, err := out.Write(buf); err != nil {
			os.Exit(0)
		}
	}
}

// runPython runs bench/python/SCRIPT N once, whatever b.N, and returns the
// nanoseconds per operation it prints ("ns_per_op X"): the script times its
// own loop of N operations, without Python's start-up. It skips the
// benchmark when python3 is missing.
func runPython(b *testing.B, script string, n int) float64 {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found")
	}
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "bench", "python", script)
	var ns float64
	out, err := exec.Command(py, path, strconv.Itoa(n)).Output()
	if err != nil {
		b.Fatalf("%s: %v", script, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	found := false
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "ns_per_op" {
			ns, err = strconv.ParseFloat(f[1], 64)
			found = err == nil
		}
	}
	if !found {
		b.Fatalf("%s printed no ns_per_op line:\n%s", script, out)
	}
	return ns
}
