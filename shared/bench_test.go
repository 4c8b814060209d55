package shared_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// The dict benchmarks: set and get of 1000 string keys ("k0".."k999") with
// int64 values, by 1 or 2 processes (par=) hammering one dict at once.
// ns/op is wall time from the common start to the last finish divided by
// the operations of one process: the latency one process sees while the
// others compete. Baselines in the same run: a Go map behind sync.Mutex in
// one process (par= goroutines), and Python's Manager().dict() with par=
// processes (bench/python/shared_dict.py).

var benchKeys = func() []string {
	k := make([]string, 1000)
	for i := range k {
		k[i] = "k" + strconv.Itoa(i)
	}
	return k
}()

const (
	opSet = iota
	opGet
)

type benchArg struct {
	Dict  shared.Handle
	Flags shm.Handle // Array[atomic.Uint32]: [0] child ready, [1] go
	Op    int
	N     int
}

type benchSpan struct{ Start, End int64 } // Unix nanoseconds

func dictOps(d *shared.Dict[string, int64], op, n int) error {
	for i := range n {
		k := benchKeys[i%len(benchKeys)]
		if op == opSet {
			if err := d.Set(k, int64(i)); err != nil {
				return err
			}
		} else if _, ok, err := d.Get(k); err != nil || !ok {
			return fmt.Errorf("get %s: %v, %v", k, ok, err)
		}
	}
	return nil
}

var benchWorker = spawn.Register("shared.benchWorker", func(ctx context.Context, a benchArg) (benchSpan, error) {
	d, err := shared.OpenDict[string, int64](a.Dict)
	if err != nil {
		return benchSpan{}, err
	}
	flags, err := shm.OpenArray[atomic.Uint32](a.Flags)
	if err != nil {
		return benchSpan{}, err
	}
	f := flags.Slice()
	f[0].Store(1)
	for f[1].Load() == 0 {
	}
	start := time.Now().UnixNano()
	if err := dictOps(d, a.Op, a.N); err != nil {
		return benchSpan{}, err
	}
	return benchSpan{start, time.Now().UnixNano()}, nil
})

func BenchmarkDict(b *testing.B) {
	for _, op := range []string{"set", "get"} {
		o := map[string]int{"set": opSet, "get": opGet}[op]
		for _, par := range []int{1, 2} {
			b.Run(fmt.Sprintf("op=%s/impl=forkless/par=%d", op, par), func(b *testing.B) {
				benchForkless(b, o, par)
			})
			b.Run(fmt.Sprintf("op=%s/impl=gomap-mutex/par=%d", op, par), func(b *testing.B) {
				benchGoMap(b, o, par)
			})
			b.Run(fmt.Sprintf("op=%s/impl=python-manager/par=%d", op, par), func(b *testing.B) {
				benchPython(b, op, par)
			})
		}
	}
}

func benchForkless(b *testing.B, op, par int) {
	b.ReportAllocs()
	m, err := shared.NewManager(16 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	d, err := shared.NewDict[string, int64](m.Heap())
	if err != nil {
		b.Fatal(err)
	}
	if err := dictOps(d, opSet, len(benchKeys)); err != nil {
		b.Fatal(err)
	}
	var p *spawn.Process[benchSpan]
	var flags *shm.Array[atomic.Uint32]
	if par == 2 {
		flags, err = shm.NewArray[atomic.Uint32](m.Region(), 2)
		if err != nil {
			b.Fatal(err)
		}
		p, err = benchWorker.Start(context.Background(), benchArg{Dict: d.Handle(), Flags: flags.Handle(), Op: op, N: b.N}, spawn.Share(m.Region()))
		if err != nil {
			b.Fatal(err)
		}
		for flags.Slice()[0].Load() == 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.ResetTimer()
	start := time.Now().UnixNano()
	if par == 2 {
		flags.Slice()[1].Store(1)
	}
	if err := dictOps(d, op, b.N); err != nil {
		b.Fatal(err)
	}
	end := time.Now().UnixNano()
	b.StopTimer()
	if par == 2 {
		span, err := p.Wait(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		start, end = min(start, span.Start), max(end, span.End)
	}
	b.ReportMetric(float64(end-start)/float64(b.N), "ns/op")
}

func benchGoMap(b *testing.B, op, par int) {
	b.ReportAllocs()
	var mu sync.Mutex
	m := map[string]int64{}
	for i, k := range benchKeys {
		m[k] = int64(i)
	}
	var sink atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			var s int64
			for i := range b.N {
				k := benchKeys[i%len(benchKeys)]
				mu.Lock()
				if op == opSet {
					m[k] = int64(i)
				} else {
					s += m[k]
				}
				mu.Unlock()
			}
			sink.Add(s)
		})
	}
	wg.Wait()
}

func benchPython(b *testing.B, op string, par int) {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found")
	}
	script, _ := filepath.Abs("../bench/python/shared_dict.py")
	// A fixed number of operations: at ~50-100 µs each, b.N's would take
	// minutes.
	n := 5000
	out, err := exec.Command(py, script, op, strconv.Itoa(par), strconv.Itoa(n)).Output()
	if err != nil {
		b.Fatalf("%s: %v", script, err)
	}
	ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		b.Fatalf("%s printed %q", script, out)
	}
	b.ReportMetric(ns, "ns/op")
}

// BenchmarkList: append of an int64, and get of one of 1000 items, from
// one process, against a Go slice behind sync.Mutex and Python's
// Manager().list() (bench/python/shared_list.py).
func BenchmarkList(b *testing.B) {
	for _, op := range []string{"append", "get"} {
		b.Run("op="+op+"/impl=forkless", func(b *testing.B) {
			b.ReportAllocs()
			m, err := shared.NewManager(64 << 20)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			l, err := shared.NewList[int64](m.Heap())
			if err != nil {
				b.Fatal(err)
			}
			for i := range 1000 {
				l.Append(int64(i))
			}
			b.ResetTimer()
			for i := range b.N {
				if op == "append" {
					if err := l.Append(int64(i)); err != nil {
						b.Fatal(err)
					}
					if l.Len() > 1<<18 {
						b.StopTimer()
						l.Clear()
						b.StartTimer()
					}
				} else if _, err := l.Get(i % 1000); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("op="+op+"/impl=goslice-mutex", func(b *testing.B) {
			b.ReportAllocs()
			var mu sync.Mutex
			s := make([]int64, 1000)
			var sink int64
			b.ResetTimer()
			for i := range b.N {
				mu.Lock()
				if op == "append" {
					s = append(s, int64(i))
				} else {
					sink += s[i%1000]
				}
				mu.Unlock()
			}
			_ = sink
		})
		b.Run("op="+op+"/impl=python-manager", func(b *testing.B) {
			py, err := exec.LookPath("python3")
			if err != nil {
				b.Skip("python3 not found")
			}
			script, _ := filepath.Abs("../bench/python/shared_list.py")
			out, err := exec.Command(py, script, op, "5000").Output()
			if err != nil {
				b.Fatalf("%s: %v", script, err)
			}
			ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				b.Fatalf("%s printed %q", script, out)
			}
			b.ReportMetric(ns, "ns/op")
		})
	}
}
