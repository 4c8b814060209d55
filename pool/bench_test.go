//go:build unix

package pool_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// poolBurn is a CPU-heavy task: n rounds of an integer hash.
var poolBurn = spawn.Register("pool.poolBurn", func(ctx context.Context, n int) (uint64, error) {
	h := uint64(n)
	for i := 0; i < n; i++ {
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= uint64(i)
	}
	return h, nil
})

// pythonPool runs bench/python/pool_bench.py and returns the numbers it
// printed.
func pythonPool(b *testing.B, args ...string) []float64 {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found")
	}
	script, _ := filepath.Abs("../bench/python/pool_bench.py")
	out, err := exec.Command(py, append([]string{script}, args...)...).Output()
	if err != nil {
		b.Fatalf("%s %v: %v", script, args, err)
	}
	var vals []float64
	for _, f := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			b.Fatalf("%s printed %q", script, out)
		}
		vals = append(vals, v)
	}
	return vals
}

func benchPool(b *testing.B, opts ...pool.Option) *pool.Pool {
	p, err := pool.New(context.Background(), append([]pool.Option{pool.Workers(2)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	// Warm up: workers started and serving.
	if _, err := pool.Map(context.Background(), p, poolSquare, make([]int, 1000)); err != nil {
		b.Fatal(err)
	}
	return p
}

func reportPerItem(b *testing.B, nsPerItem float64) {
	b.ReportMetric(nsPerItem, "ns/item")
	b.ReportMetric(1e9/nsPerItem, "items/s")
}

// BenchmarkPoolMap: Pool.map of an int-to-int function over 1M items on 2
// workers, with Python's automatic chunks and with one item per task,
// against Python's Pool.map (100k items for its one-per-task case, which
// would take half a minute at 1M).
func BenchmarkPoolMap(b *testing.B) {
	const n = 1_000_000
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	for _, chunk := range []string{"auto", "1"} {
		b.Run("impl=forkless/chunk="+chunk, func(b *testing.B) {
			cpu0 := cpuTime(b)
			p := benchPool(b)
			c, _ := strconv.Atoi(chunk)
			b.ReportAllocs()
			b.SetBytes(16 * n) // an 8-byte argument and an 8-byte result per item
			for b.Loop() {
				out, err := pool.Map(context.Background(), p, poolSquare, in, pool.Chunk(c))
				if err != nil || out[n-1] != (n-1)*(n-1) {
					b.Fatal(err)
				}
			}
			reportPerItem(b, float64(b.Elapsed().Nanoseconds())/float64(b.N*n))
			// CPU time of the parent and the workers (counted once they are
			// reaped): robust to the load of a shared machine, unlike the
			// wall time. It includes starting the workers and the warm-up.
			p.Close(context.Background())
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N*n), "cpu-ns/item")
		})
		b.Run("impl=python/chunk="+chunk, func(b *testing.B) {
			items := n
			if chunk == "1" {
				items = 100_000
			}
			var ns, cpu []float64
			for b.Loop() {
				v := pythonPool(b, "map", "2", strconv.Itoa(items), chunk)
				ns, cpu = append(ns, v[0]), append(cpu, v[1])
			}
			slices.Sort(ns)
			slices.Sort(cpu)
			reportPerItem(b, ns[len(ns)/2])
			b.ReportMetric(cpu[len(cpu)/2], "cpu-ns/item")
		})
	}
}

// BenchmarkMap/chunk=auto/values=constant: Map of square over 1M copies of
// one small int on 2 workers, automatic chunks, against Python's Pool.map
// over [3] * 1M (pool/testdata/pool_values.py). Python pickles small
// constant ints far faster than distinct ones (BenchmarkPoolMap), so this
// is the ratio where the parent's own encoding, decoding and delivery
// show.
func BenchmarkMap(b *testing.B) {
	const n, value = 1_000_000, 3
	in := make([]int, n)
	for i := range in {
		in[i] = value
	}
	b.Run("chunk=auto/values=constant/impl=forkless", func(b *testing.B) {
		cpu0 := cpuTime(b)
		p := benchPool(b)
		b.ReportAllocs()
		for b.Loop() {
			out, err := pool.Map(context.Background(), p, poolSquare, in)
			if err != nil || out[n-1] != value*value {
				b.Fatal(err)
			}
		}
		reportPerItem(b, float64(b.Elapsed().Nanoseconds())/float64(b.N*n))
		// As in BenchmarkPoolMap: the parent's and the workers' CPU time,
		// start-up and warm-up included, steadier than wall time under load.
		p.Close(context.Background())
		b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N*n), "cpu-ns/item")
	})
	b.Run("chunk=auto/values=constant/impl=python", func(b *testing.B) {
		py, err := exec.LookPath("python3")
		if err != nil {
			b.Skip("python3 not found")
		}
		var ns []float64
		for b.Loop() {
			out, err := exec.Command(py, "testdata/pool_values.py", "2", strconv.Itoa(n), strconv.Itoa(value)).Output()
			if err != nil {
				b.Fatal(err)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				b.Fatalf("pool_values.py printed %q", out)
			}
			ns = append(ns, v)
		}
		slices.Sort(ns)
		reportPerItem(b, ns[len(ns)/2])
	})
}

// BenchmarkPoolSubmit: 20k single tasks submitted, then every future
// waited on, against Python's apply_async and get.
func BenchmarkPoolSubmit(b *testing.B) {
	const n = 20_000
	b.Run("impl=forkless", func(b *testing.B) {
		p := benchPool(b)
		ctx := context.Background()
		b.ReportAllocs()
		fs := make([]*pool.Future[int], n)
		for b.Loop() {
			for i := range fs {
				fs[i] = pool.Submit(p, poolSquare, i)
			}
			for i, f := range fs {
				if v, err := f.Wait(ctx); err != nil || v != i*i {
					b.Fatal(v, err)
				}
			}
		}
		reportPerItem(b, float64(b.Elapsed().Nanoseconds())/float64(b.N*n))
	})
	b.Run("impl=python", func(b *testing.B) {
		var ns []float64
		for b.Loop() {
			ns = append(ns, pythonPool(b, "apply", "2", strconv.Itoa(n))[0])
		}
		slices.Sort(ns)
		reportPerItem(b, ns[len(ns)/2])
	})
}

// BenchmarkPoolLatency: one task's submit-to-result time, p50 and p99,
// against Python's apply_async(...).get().
func BenchmarkPoolLatency(b *testing.B) {
	b.Run("impl=forkless", func(b *testing.B) {
		p := benchPool(b)
		ctx := context.Background()
		b.ReportAllocs()
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := pool.Apply(ctx, p, poolSquare, 7); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	})
	b.Run("impl=python", func(b *testing.B) {
		// One script run makes b.N round trips, as the loop above does.
		v := pythonPool(b, "latency", "2", strconv.Itoa(max(b.N, 100)))
		b.ReportMetric(v[0], "p50-ns")
		b.ReportMetric(v[1], "p99-ns")
	})
}

// BenchmarkPoolCPU: a CPU-heavy function (16 tasks of about 20 ms each) on
// 1 and on 2 workers; the ratio of the two is the parallel speed-up.
func BenchmarkPoolCPU(b *testing.B) {
	in := make([]int, 16)
	for i := range in {
		in[i] = 10_000_000
	}
	run := func(b *testing.B, p *pool.Pool) time.Duration {
		t0 := time.Now()
		if _, err := pool.Map(context.Background(), p, poolBurn, in, pool.Chunk(1)); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	for _, w := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(w)+"/impl=forkless", func(b *testing.B) {
			p := benchPool(b, pool.Workers(w))
			for b.Loop() {
				run(b, p)
			}
		})
	}
	// The two alternated in one loop, so both see the same load on a
	// shared machine: speedup is the median of time(1 worker)/time(2).
	b.Run("workers=1vs2/impl=forkless", func(b *testing.B) {
		p1, p2 := benchPool(b, pool.Workers(1)), benchPool(b, pool.Workers(2))
		var r []float64
		for b.Loop() {
			t1 := run(b, p1)
			t2 := run(b, p2)
			r = append(r, float64(t1)/float64(t2))
		}
		slices.Sort(r)
		b.ReportMetric(r[len(r)/2], "speedup")
	})
	// The baseline: the same work on 1 and 2 goroutines of this process,
	// alternated the same way. It is what the machine allows right now.
	b.Run("workers=1vs2/impl=goroutines", func(b *testing.B) {
		burn := func(n int) uint64 {
			h := uint64(n)
			for i := 0; i < n; i++ {
				h ^= h >> 33
				h *= 0xff51afd7ed558ccd
				h ^= uint64(i)
			}
			return h
		}
		par := func(g int) time.Duration {
			t0 := time.Now()
			var wg sync.WaitGroup
			next := make(chan int, len(in))
			for _, x := range in {
				next <- x
			}
			close(next)
			for range g {
				wg.Go(func() {
					for x := range next {
						sink.Add(burn(x))
					}
				})
			}
			wg.Wait()
			return time.Since(t0)
		}
		var r []float64
		for b.Loop() {
			t1 := par(1)
			t2 := par(2)
			r = append(r, float64(t1)/float64(t2))
		}
		slices.Sort(r)
		b.ReportMetric(r[len(r)/2], "speedup")
	})
}

var sink atomic.Uint64

// cpuTime is the CPU time (user and system) of this process and of its
// reaped children, in nanoseconds.
func cpuTime(b *testing.B) int64 {
	var self, kids syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids); err != nil {
		b.Fatal(err)
	}
	var t int64
	for _, tv := range []syscall.Timeval{self.Utime, self.Stime, kids.Utime, kids.Stime} {
		t += tv.Nano()
	}
	return t
}
