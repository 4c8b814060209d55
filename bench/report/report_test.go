package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A go test -bench -v output of two packages, with a skipped and a failed
// benchmark, noise lines, and three runs of each figure.
const sample = `goos: linux
goarch: amd64
pkg: github.com/forkless-go/forkless/ring
cpu: AMD EPYC
BenchmarkQueue
BenchmarkQueue/impl=forkless/size=64B/pairs=1
BenchmarkQueue/impl=forkless/size=64B/pairs=1-2   	 1000000	       100.0 ns/op	  10000000 msgs/s	  640.00 MB/s
BenchmarkQueue/impl=forkless/size=64B/pairs=1-2   	 1000000	       300.0 ns/op	   5000000 msgs/s	  320.00 MB/s
BenchmarkQueue/impl=forkless/size=64B/pairs=1-2   	 1000000	       200.0 ns/op	  20000000 msgs/s	 1280.00 MB/s
BenchmarkQueue/impl=forkless/size=1MiB/pairs=2
    queue_test.go:10: larger than the ring
--- SKIP: BenchmarkQueue/impl=forkless/size=1MiB/pairs=2
BenchmarkBroken
    broken_test.go:3: child died
--- FAIL: BenchmarkBroken
FAIL
exit status 1
FAIL	github.com/forkless-go/forkless/ring	1.0s
goos: linux
pkg: github.com/forkless-go/forkless/bench
BenchmarkPingPong/impl=pipe-2     	   10000	     20000 ns/op	      9000 p50-ns	     50000 p99-ns
BenchmarkPingPong/impl=pipe-2     	   10000	     22000 ns/op	     11000 p50-ns	     70000 p99-ns
BenchmarkPythonStream/impl=mp-queue/size=64B/pairs=1-2 	1	 500000000 ns/op	    100000 msgs/s
BenchmarkPythonStream/impl=mp-queue/size=64B/pairs=1-2 	1	 500000000 ns/op	    150000 msgs/s
BenchmarkPythonStream/impl=mp-queue/size=64B/pairs=1-2 	1	 500000000 ns/op	    120000 msgs/s
PASS
ok  	github.com/forkless-go/forkless/bench	3.0s
`

func parsed(t *testing.T) *Results {
	t.Helper()
	r := newResults()
	if err := r.Add([]byte(sample)); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseKeepsUnitsAndNames(t *testing.T) {
	r := parsed(t)
	k := key{"ring", "Queue/impl=forkless/size=64B/pairs=1", ""}
	for unit, want := range map[string]float64{"ns/op": 200, "msgs/s": 10e6, "MB/s": 640} {
		v, n, ok := r.Median(k, unit)
		if !ok || n != 3 || v != want {
			t.Errorf("median %s of %v = %v (n=%d, ok=%v), want %v over 3 runs", unit, k, v, n, ok, want)
		}
	}
	if v, n, ok := r.Median(key{"bench", "PingPong/impl=pipe", ""}, "p99-ns"); !ok || n != 2 || v != 60000 {
		t.Errorf("median p99-ns of two runs = %v (n=%d, ok=%v), want the mean of the middle two, 60000", v, n, ok)
	}
	if _, _, ok := r.Median(k, "p50-ns"); ok {
		t.Error("a unit the benchmark never printed has a median")
	}
	if got := len(r.Keys()); got != 3 {
		t.Errorf("%d benchmarks parsed, want 3: %v", got, r.Keys())
	}
}

func TestWhy(t *testing.T) {
	r := parsed(t)
	r.pkgFail["sync"] = "build failed"
	for _, c := range []struct {
		k    key
		unit string
		want string
	}{
		{key{"ring", "Queue/impl=forkless/size=1MiB/pairs=2", ""}, "msgs/s", "skipped: queue_test.go:10: larger than the ring"},
		{key{"ring", "Broken/x=1", ""}, "ns/op", "failed: broken_test.go:3: child died"},
		{key{"ring", "Queue/impl=forkless/size=64B/pairs=1", ""}, "p99-ns", "reports no p99-ns (only MB/s, msgs/s, ns/op)"},
		{key{"ring", "Pipe", ""}, "ns/op", "no benchmark Pipe in ./ring yet"},
		{key{"shared", "Dict", ""}, "ns/op", "package ./shared was not run"},
		{key{"sync", "Mutex", ""}, "ns/op", "package ./sync did not run: build failed"},
	} {
		if got := r.Why(c.k, c.unit); got != c.want {
			t.Errorf("Why(%v, %s) = %q, want %q", c.k, c.unit, got, c.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1, 100, 2, 3, 1000}, 3},
	} {
		in := append([]float64(nil), c.in...)
		if got := median(in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Fatalf("median reordered its input: %v", in)
			}
		}
	}
}

func TestSpeedup(t *testing.T) {
	for _, c := range []struct {
		f      float64
		fu     string
		r      float64
		ru     string
		want   float64
		wantOK bool
	}{
		{10e6, "msgs/s", 100e3, "msgs/s", 100, true}, // rates: forkless / rival
		{1000, "p50-ns", 10000, "p50-ns", 10, true},  // times: rival / forkless
		{2000, "ns/op", 1000, "ns/op", 0.5, true},    // slower
		{1e6, "items/s", 2000, "ns/op", 2, true},     // a rate against a time per op
		{100, "ns/op", 1e6, "msgs/s", 10, true},      // and the other way round
		{0, "ns/op", 10, "ns/op", 0, false},          // no figure
		{10, "B/op", 10, "ns/op", 0, false},          // not comparable
		{1.8, "speedup", 2, "speedup", 0.9, true},    // speedups: higher is better
		{1.8, "speedup", 2, "ns/op", 0, false},       // a speedup is not a time
	} {
		got, ok := Speedup(c.f, c.fu, c.r, c.ru)
		if ok != c.wantOK || math.Abs(got-c.want) > 1e-9*c.want {
			t.Errorf("Speedup(%v %s, %v %s) = %v, %v; want %v, %v", c.f, c.fu, c.r, c.ru, got, ok, c.want, c.wantOK)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{formatValue(1234, "ns/op"), "1.23 µs"},
		{formatValue(56.7, "p50-ns"), "56.7 ns"},
		{formatValue(2.5e6, "ns/msg"), "2.50 ms/msg"},
		{formatValue(12345678, "msgs/s"), "12.3M msgs/s"},
		{formatValue(2300, "MB/s"), "2.30 GB/s"},
		{formatRatio(123.4), "123×"},
		{formatRatio(3.14), "3.1×"},
		{formatRatio(0.5), "0.50×"},
		{formatRatio(0.001), "1/1000×"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestReport renders a report from the sample output with a workload table
// of its own, and checks the figures and ratios land where they should and
// that a missing figure is called missing, not invented.
func TestReport(t *testing.T) {
	saved := workloads
	defer func() { workloads = saved }()
	workloads = []Workload{{
		ID: "q", Section: "messaging", What: "Queue 64 B",
		Forkless: Measure{"forkless Queue", "ring", "Queue/impl=forkless/size=64B/pairs=1", "msgs/s"},
		Rivals: []Measure{
			{"Python Queue", "bench", "PythonStream/impl=mp-queue/size=64B/pairs=1", "msgs/s"},
			{"Unix socket", "bench", "Stream/impl=unix/size=64B/pairs=1", "msgs/s"},
		},
		Headline: "Python Queue",
	}, {
		ID: "big", Section: "messaging", Group: "Big", What: "Queue 1 MiB",
		Forkless: Measure{"forkless Queue", "ring", "Queue/impl=forkless/size=1MiB/pairs=2", "msgs/s"},
		Rivals:   []Measure{{"Python Queue", "bench", "PythonStream/impl=mp-queue/size=64B/pairs=1", "msgs/s"}},
	}, {
		ID: "slow", Section: "messaging", Group: "Big", What: "Slower",
		Forkless: Measure{"forkless Queue", "bench", "PythonStream/impl=mp-queue/size=64B/pairs=1", "ns/op"},
		Rivals:   []Measure{{"Pipe", "bench", "PingPong/impl=pipe", "ns/op"}},
	}}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "messaging.md"), []byte(`Against Python: {{ratio "q" "Python Queue"}} at {{fig "q"}}.{{if gt (speedup "q" "Python Queue") 50.0}} Fast.{{end}}{{if eq (speedup "q" "Unix socket") 0.0}} No socket.{{end}}`), 0o644)
	rep := &Report{Res: parsed(t), Info: RunInfo{Count: 3, Benchtime: "1x"}, FragDir: dir}
	md, err := rep.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, want := range []string{
		"| Queue 64 B | 10.0M msgs/s | 5.00M – 20.0M msgs/s (3 runs) | 120k msgs/s, **83×** | not measured |", // 10M / 120k
		"Against Python: 83× at 10.0M msgs/s.",                                 // the fragment, rendered
		"| Queue 64 B vs Python Queue | **83×** faster | n/a (too few runs) |", // the headline
		"cells show the median alone",                                          // 3 runs: no interval
		"Unix socket (`./bench` Stream/impl=unix/size=64B/pairs=1, msgs/s): no benchmark Stream/impl=unix/size=64B/pairs=1 in ./bench yet",
		"-count 3 ./ring",
		"### Big\n\n| Workload | forkless | forkless, fastest – slowest run | Python Queue | Pipe |", // a second table
		"| Queue 1 MiB | skipped |  | 120k msgs/s | |",                                               // a skipped figure
		"| Slower | 500 ms | 500 – 500 ms (3 runs) | | 21.0 µs, **1/23810×** slower |",               // a slower one
		"forkless Queue (`./ring` Queue/impl=forkless/size=1MiB/pairs=2, msgs/s): skipped: queue_test.go:10: larger than the ring",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if len(rep.Warnings) > 0 {
		t.Errorf("warnings: %v", rep.Warnings)
	}
	charts, err := drawCharts(rep.Res, dir, rep.Headlines())
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) == 0 {
		t.Error("no chart drawn")
	}
}

// TestNames keeps a dash inside a sub-benchmark name and drops only the
// trailing -GOMAXPROCS.
func TestNames(t *testing.T) {
	r := newResults()
	err := r.Add([]byte("pkg: github.com/forkless-go/forkless/sync\n" +
		"BenchmarkCounter2Procs/impl=sync.Mutex-2goroutines-2 \t 100\t 5 ns/op\n" +
		"BenchmarkLockUnlock/impl=forkless.RWMutex.RLock-16 \t 100\t 5 ns/op\n" +
		"BenchmarkPlain \t 100\t 5 ns/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []key{
		{"sync", "Counter2Procs/impl=sync.Mutex-2goroutines", ""},
		{"sync", "LockUnlock/impl=forkless.RWMutex.RLock", ""},
		{"sync", "Plain", ""},
	}
	if got := r.Keys(); !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}

// TestGoTestTimeout: a run that hangs is killed with everything it
// started, and what it printed before is kept.
func TestGoTestTimeout(t *testing.T) {
	saved := pkgTimeout
	defer func() { pkgTimeout = saved }()
	pkgTimeout = 300 * time.Millisecond
	t0 := time.Now()
	out, err := goTest(t.TempDir(), "sh", []string{"-c", "echo BenchmarkX-2 1 5 ns/op; sleep 30 & wait"})
	var te *timeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Errorf("took %v to stop", el)
	}
	if !strings.Contains(string(out), "BenchmarkX-2") {
		t.Errorf("output before the timeout lost: %q", out)
	}
	r := newResults()
	r.Add([]byte("pkg: github.com/forkless-go/forkless/sync\n"))
	r.timedOut("sync", "^Benchmark(EventPingPong)$", "", pkgTimeout)
	if why := r.Why(key{"sync", "EventPingPong/impl=python-Event", ""}, "ns/op"); !strings.HasPrefix(why, "cut off:") {
		t.Errorf("Why = %q", why)
	}
}
