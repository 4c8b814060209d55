package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSummarize: six runs give a finite 95% interval (for six samples the
// distribution-free interval of the median spans the smallest and the
// largest); five do not.
func TestSummarize(t *testing.T) {
	st := summarize([]float64{12, 10, 11, 13, 9, 100})
	if st.Center != 11.5 || st.Lo != 9 || st.Hi != 100 || st.Min != 9 || st.Max != 100 || st.N != 6 || !st.bounded() {
		t.Errorf("summarize of 6 = %+v, want median 11.5 within [9, 100]", st)
	}
	if got := st.CIPct(); got != "±770%" {
		t.Errorf("CIPct = %q, want ±770%% (100/11.5 - 1)", got)
	}
	if got := st.SpreadRatio(); math.Abs(got-100.0/9) > 1e-9 {
		t.Errorf("SpreadRatio = %v", got)
	}
	few := summarize([]float64{3, 1, 2, 5, 4})
	if few.bounded() || few.NoCI == "" || few.CIPct() != "±∞" || few.Center != 3 {
		t.Errorf("5 samples: %+v, want the median 3 and no interval", few)
	}
	in := []float64{3, 1, 2}
	summarize(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("summarize reordered its input: %v", in)
	}
	ten := summarize([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	if !(ten.Lo > 1 && ten.Hi < 10 && ten.Center == 5.5) {
		t.Errorf("10 samples: interval [%v, %v] around %v, want inside the extremes", ten.Lo, ten.Hi, ten.Center)
	}
}

// TestRatioOf: the ratio of medians, and the range the two intervals allow
// at worst and at best, for rates and for times.
func TestRatioOf(t *testing.T) {
	rate := func(c, lo, hi float64) Stat { return Stat{Center: c, Lo: lo, Hi: hi, Min: lo, Max: hi, N: 6} }
	r, ok := ratioOf(rate(100, 90, 110), "msgs/s", rate(10, 8, 12), "msgs/s")
	if !ok || r.Center != 10 || math.Abs(r.Lo-7.5) > 1e-9 || math.Abs(r.Hi-13.75) > 1e-9 || !r.Bounded {
		t.Errorf("rates: %+v, want 10 within [90/12, 110/8]", r)
	}
	// Times: forkless 1 µs (0.8-2) against a rival's 10 µs (9-11).
	r, ok = ratioOf(rate(1000, 800, 2000), "p50-ns", rate(10000, 9000, 11000), "p50-ns")
	if !ok || r.Center != 10 || r.Lo != 4.5 || r.Hi != 13.75 {
		t.Errorf("times: %+v, want 10 within [9000/2000, 11000/800]", r)
	}
	if got := r.String(); got != "10× (4.5–14×)" {
		t.Errorf("String = %q", got)
	}
	// Without an interval the range is the ratio itself.
	r, ok = ratioOf(Stat{Center: 2, N: 1, NoCI: "need >= 6"}, "ns/op", rate(4, 3, 5), "ns/op")
	if !ok || r.Bounded || r.Lo != 2 || r.Hi != 2 || r.String() != "2.0×" {
		t.Errorf("no interval: %+v %q", r, r.String())
	}
	if _, ok := ratioOf(rate(1, 1, 1), "B/op", rate(1, 1, 1), "ns/op"); ok {
		t.Error("B/op compared with ns/op")
	}
}

func TestFormatRange(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		unit   string
		want   string
	}{
		{5.9e6, 6.4e6, "msgs/s", "5.90M – 6.40M msgs/s"},
		{980, 1200, "p50-ns", "980 ns – 1.20 µs"},
		{1500, 2500, "ns/op", "1.50 – 2.50 µs"},
		{1.8, 1.9, "speedup", "1.80× – 1.90×"},
	} {
		if got := formatRange(c.lo, c.hi, c.unit); got != c.want {
			t.Errorf("formatRange(%v, %v, %s) = %q, want %q", c.lo, c.hi, c.unit, got, c.want)
		}
	}
}

func TestQuickBenchtime(t *testing.T) {
	for in, want := range map[string]string{"20000x": "2000x", "500x": "100x", "300ms": "50ms", "10ms": "10ms", "1s": "50ms", "odd": "odd"} {
		if got := quickBenchtime(in); got != want {
			t.Errorf("quickBenchtime(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEstimate: the full table at -count 6 fits the ~35 minutes a run may
// take on 2 cores, and the estimate grows with the count.
func TestEstimate(t *testing.T) {
	full := estimate(packages, 6, false)
	if full > 35*time.Minute || full < estimate(packages, 1, false) {
		t.Errorf("estimate at count 6 = %v, want at most 35 min and more than at count 1", full)
	}
	if q := estimate(packages, 1, true); q > 5*time.Minute {
		t.Errorf("a quick run is estimated at %v", q)
	}
	for _, p := range packages {
		if p.PerRun <= 0 {
			t.Errorf("package %s %s has no timing for the estimate", p.Dir, p.Bench)
		}
	}
}

func TestModuleOf(t *testing.T) {
	if m, ok := moduleOf(shmipcPkg); !ok || m != "bench/report" {
		t.Errorf("moduleOf(%s) = %q, %v", shmipcPkg, m, ok)
	}
	if _, ok := moduleOf("bench"); ok {
		t.Error("./bench is in the library's module")
	}
	if _, ok := moduleOf("bench/reporter"); ok {
		t.Error("a prefix that is not a directory matched")
	}
}

// loadedSample is the same benchmark in a quiet pass and in a loaded one,
// six runs each, as the report writes them into results.txt.
const loadedSample = `load: quiet
pkg: github.com/forkless-go/forkless/bench
BenchmarkPingPong/impl=forkless-2 	 20000	  1000 ns/op	  500 p50-ns
BenchmarkPingPong/impl=forkless-2 	 20000	  1000 ns/op	  510 p50-ns
BenchmarkPingPong/impl=forkless-2 	 20000	  1000 ns/op	  520 p50-ns
BenchmarkPingPong/impl=forkless-2 	 20000	  1000 ns/op	  530 p50-ns
BenchmarkPingPong/impl=forkless-2 	 20000	  1000 ns/op	  540 p50-ns
BenchmarkPingPong/impl=forkless-2 	 20000	  1000 ns/op	  550 p50-ns
BenchmarkPingPong/impl=pipe-2 	 20000	  1000 ns/op	  5000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 20000	  1000 ns/op	  5000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 20000	  1000 ns/op	  5000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 20000	  1000 ns/op	  5000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 20000	  1000 ns/op	  5000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 20000	  1000 ns/op	  5000 p50-ns
ok  	github.com/forkless-go/forkless/bench	3.0s
load: busy
pkg: github.com/forkless-go/forkless/bench
BenchmarkPingPong/impl=forkless-2 	 5000	  1000 ns/op	  20000 p50-ns
BenchmarkPingPong/impl=forkless-2 	 5000	  1000 ns/op	  20000 p50-ns
BenchmarkPingPong/impl=forkless-2 	 5000	  1000 ns/op	  20000 p50-ns
BenchmarkPingPong/impl=forkless-2 	 5000	  1000 ns/op	  20000 p50-ns
BenchmarkPingPong/impl=forkless-2 	 5000	  1000 ns/op	  20000 p50-ns
BenchmarkPingPong/impl=forkless-2 	 5000	  1000 ns/op	  20000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 5000	  1000 ns/op	  10000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 5000	  1000 ns/op	  10000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 5000	  1000 ns/op	  10000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 5000	  1000 ns/op	  10000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 5000	  1000 ns/op	  10000 p50-ns
BenchmarkPingPong/impl=pipe-2 	 5000	  1000 ns/op	  10000 p50-ns
BenchmarkPingPong/impl=unix
    pingpong_test.go:1: no socket under load
--- SKIP: BenchmarkPingPong/impl=unix
`

// TestLoadedRows: quiet and loaded passes of the same benchmark stay
// apart, each row compares figures of its own pass, the load table and
// the intervals are printed, and a skip in the loaded pass is the loaded
// figure's reason only.
func TestLoadedRows(t *testing.T) {
	saved := workloads
	defer func() { workloads = saved }()
	pipe := func(impl, label string) Measure { return Measure{label, "bench", "PingPong/impl=" + impl, "p50-ns"} }
	row := Workload{ID: "rt", Section: "messaging", What: "Pipe round trip, p50", Short: "Pipe p50",
		Forkless: pipe("forkless", "forkless Pipe"), Rivals: []Measure{pipe("pipe", "os.Pipe"), pipe("unix", "Unix socket")}, Headline: "os.Pipe"}
	loaded := row
	loaded.ID, loaded.Load, loaded.Short = "rt/loaded", busyLoad, "Pipe p50, loaded"
	workloads = []Workload{row, loaded}

	res := newResults()
	if err := res.Add([]byte(loadedSample)); err != nil {
		t.Fatal(err)
	}
	if st, ok := res.Stat(key{"bench", "PingPong/impl=forkless", ""}, "p50-ns"); !ok || st.N != 6 || st.Center != 525 {
		t.Errorf("quiet: %+v, %v", st, ok)
	}
	if st, ok := res.Stat(key{"bench", "PingPong/impl=forkless", busyLoad}, "p50-ns"); !ok || st.N != 6 || st.Center != 20000 {
		t.Errorf("loaded: %+v, %v", st, ok)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "messaging.md"), []byte(`Loaded: {{fig "rt/loaded"}} against {{rival "rt/loaded" "os.Pipe"}} ({{ratio "rt/loaded" "os.Pipe"}}). Quiet runs: {{spread "rt"}}.`), 0o644)
	rep := &Report{Res: res, FragDir: dir, Info: RunInfo{Count: 6, Busy: 4, Machine: Machine{Cores: 2},
		Passes: []Pass{{Pkg: "bench", Pattern: "^BenchmarkPingPong$", LoadBefore: "1.10", LoadAfter: "1.50", Took: 3 * time.Second},
			{Pkg: "bench", Pattern: "^BenchmarkPingPong$/impl=(a|b)", Load: busyLoad, LoadBefore: "1.50", LoadAfter: "4.20", Took: 9 * time.Second}}}}
	md, err := rep.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, want := range []string{
		"| Pipe round trip, p50 | 525 ns ±5% | 500 – 550 ns (6 runs) | 5.00 µs ±0%, **9.5×** (9.1–10×) | not measured |",
		"| **loaded:** Pipe round trip, p50 | 20.0 µs ±0% | 20.0 – 20.0 µs (6 runs) | 10.0 µs ±0%, **0.50×** slower | skipped |",
		"Loaded: 20.0 µs against 10.0 µs (0.50×). Quiet runs: 500 – 550 ns (6 runs, 1.1× apart).",
		"| Pipe p50 vs os.Pipe | **9.5×** faster | 9.1× – 10× |",
		"| Pipe p50, loaded vs os.Pipe | **0.50×** (slower) | 0.50× – 0.50× |",
		"| ./bench | `^BenchmarkPingPong$/impl=(a\\|b)` | **loaded** (4 busy loops) | 1.50 → 4.20 | 9s |",
		"with 4 busy-loop processes (2.00 per core)",
		"Unix socket (`./bench` PingPong/impl=unix, p50-ns, loaded): skipped: pingpong_test.go:1: no socket under load",
		"Unix socket (`./bench` PingPong/impl=unix, p50-ns): no benchmark PingPong/impl=unix in ./bench yet",
		"<summary>./bench, loaded</summary>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "cells show the median alone") {
		t.Error("a 6-run report says it has no intervals")
	}
	charts, err := drawCharts(res, dir, rep.Headlines())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range charts {
		names = append(names, c.File)
	}
	if !strings.Contains(strings.Join(names, " "), "load.png") {
		t.Errorf("charts %v lack the quiet-against-loaded one", names)
	}
}

func TestSavedBusy(t *testing.T) {
	if n := savedBusy([]byte("goos: linux\nbusy-loops: 4\nload: quiet\n")); n != 4 {
		t.Errorf("savedBusy = %d, want 4", n)
	}
	if n := savedBusy([]byte("goos: linux\n")); n != 0 {
		t.Errorf("savedBusy of an old run = %d, want 0", n)
	}
}

func TestGroupKeys(t *testing.T) {
	in := []key{{"a", "1", ""}, {"b", "1", ""}, {"a", "1", busyLoad}, {"a", "2", ""}, {"c", "1", "other"}}
	want := []key{{"a", "1", ""}, {"a", "2", ""}, {"b", "1", ""}, {"a", "1", busyLoad}, {"c", "1", "other"}}
	if got := groupKeys(in); !slices.Equal(got, want) {
		t.Errorf("groupKeys = %v, want %v", got, want)
	}
}
