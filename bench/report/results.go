package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// A key names one benchmark of one package: Pkg is the package directory
// relative to the repository root ("ring", "bench"), Name the benchmark
// name without its "Benchmark" prefix and without the "-GOMAXPROCS" suffix,
// as benchstat prints it ("Stream/impl=pipe/size=64B/pairs=1").
//
// Load is the machine's load the figure was measured under: "" for the
// quiet passes, busyLoad for the passes run with busy processes on every
// core (the "load: ..." configuration line the report writes into the raw
// output before each pass says which, and benchstat keeps them apart).
type key struct{ Pkg, Name, Load string }

func (k key) String() string {
	if k.Load != "" {
		return k.Pkg + ": " + k.Name + " (" + k.Load + ")"
	}
	return k.Pkg + ": " + k.Name
}

// The load configuration values the report writes.
const (
	quietLoad = "quiet"
	busyLoad  = "busy"
)

// Results holds every sample of every benchmark of one run of the suite,
// and what the run said about benchmarks that produced none.
type Results struct {
	samples map[key]map[string][]float64 // unit -> one value per -count
	order   []key                        // first appearance
	skipped map[key]string               // benchmark -> why it skipped
	failed  map[key]string               // benchmark -> why it failed
	pkgFail map[string]string            // package -> why it did not run
	timeout []timeoutNote                // go test runs stopped by the report's deadline
	ran     map[string]bool              // packages whose go test ran
}

func newResults() *Results {
	return &Results{
		samples: make(map[key]map[string][]float64),
		skipped: make(map[key]string),
		failed:  make(map[key]string),
		pkgFail: make(map[string]string),
		ran:     make(map[string]bool),
	}
}

// modulePath is the library's module; package import paths are reported
// relative to it.
const modulePath = "github.com/forkless-go/forkless"

func pkgDir(importPath string) string {
	if importPath == modulePath {
		return "."
	}
	return strings.TrimPrefix(importPath, modulePath+"/")
}

// benchName strips the "Benchmark" prefix and the "-GOMAXPROCS" suffix.
func benchName(n benchfmt.Name) string {
	base, parts := n.Parts()
	var sb strings.Builder
	sb.Write(bytes.TrimPrefix(base, []byte("Benchmark")))
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' {
			continue
		}
		sb.Write(p)
	}
	return sb.String()
}

// Add parses the output of one `go test -bench -v` run (any number of
// packages) and adds its samples. Values keep the units the benchmark
// printed (ns/op, msgs/s, p99-ns...), not benchfmt's tidied base units.
func (r *Results) Add(data []byte) error {
	br := benchfmt.NewReader(bytes.NewReader(data), "go test")
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // syntax errors are lines that are not results
		}
		load := res.GetConfig("load")
		if load == quietLoad {
			load = ""
		}
		k := key{pkgDir(res.GetConfig("pkg")), benchName(res.Name), load}
		r.ran[k.Pkg] = true
		units, seen := r.samples[k]
		if !seen {
			units = make(map[string][]float64)
			r.samples[k] = units
			r.order = append(r.order, k)
		}
		for _, v := range res.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			units[unit] = append(units[unit], val)
		}
	}
	if err := br.Err(); err != nil {
		return err
	}
	r.addVerdicts(data)
	return nil
}

// addVerdicts records "--- SKIP:" and "--- FAIL:" lines of benchmarks with
// the log lines printed just before them (go test -v prints a benchmark's
// log first, then its verdict).
func (r *Results) addVerdicts(data []byte) {
	pkg, load := "", ""
	var logs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = pkgDir(strings.TrimSpace(strings.TrimPrefix(line, "pkg: ")))
			r.ran[pkg] = true
		case strings.HasPrefix(line, "load: "):
			if load = strings.TrimSpace(strings.TrimPrefix(line, "load: ")); load == quietLoad {
				load = ""
			}
		case strings.HasPrefix(line, "    "):
			logs = append(logs, strings.TrimSpace(line))
		case strings.HasPrefix(line, "--- SKIP: Benchmark"), strings.HasPrefix(line, "--- FAIL: Benchmark"):
			name := strings.Fields(line)[2]
			k := key{pkg, strings.TrimPrefix(name, "Benchmark"), load}
			why := strings.Join(logs, " ")
			if why == "" {
				why = "no reason given"
			}
			if strings.HasPrefix(line, "--- SKIP") {
				r.skipped[k] = why
			} else {
				r.failed[k] = why
			}
			logs = nil
		case strings.HasPrefix(line, "Benchmark"):
			logs = nil
		}
	}
}

type timeoutNote struct {
	pkg, pattern, load string
	after              time.Duration
}

// timedOut records that the go test of pattern in pkg, under load, was
// stopped: any of its benchmarks without a figure is said to have been cut
// off.
func (r *Results) timedOut(pkg, pattern, load string, after time.Duration) {
	r.timeout = append(r.timeout, timeoutNote{pkg, pattern, load, after})
}

// Stat summarizes a benchmark's samples in unit (see Stat).
func (r *Results) Stat(k key, unit string) (Stat, bool) {
	vs := r.samples[k][unit]
	if len(vs) == 0 {
		return Stat{}, false
	}
	return summarize(vs), true
}

// Median returns the median of a benchmark's samples in unit, and how many
// samples there were.
func (r *Results) Median(k key, unit string) (float64, int, bool) {
	vs := r.samples[k][unit]
	if len(vs) == 0 {
		return 0, 0, false
	}
	return median(vs), len(vs), true
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Why says why a benchmark has no figure in unit: its package did not build
// or run, it was skipped or failed (with the reason it logged), it reported
// other units, or it does not exist.
func (r *Results) Why(k key, unit string) string {
	if why, ok := r.pkgFail[k.Pkg]; ok {
		return "package ./" + k.Pkg + " did not run: " + why
	}
	// A verdict on k or on a parent benchmark (a parent that skips or
	// fails never runs k).
	for _, v := range []struct {
		m    map[key]string
		word string
	}{{r.failed, "failed: "}, {r.skipped, "skipped: "}} {
		for kk, why := range v.m {
			if kk.Pkg == k.Pkg && kk.Load == k.Load && (kk.Name == k.Name || strings.HasPrefix(k.Name, kk.Name+"/")) {
				return v.word + why
			}
		}
	}
	for _, t := range r.timeout {
		if t.pkg == k.Pkg && t.load == k.Load {
			if re, err := regexp.Compile(strings.SplitN(t.pattern, "/", 2)[0]); err == nil && re.MatchString("Benchmark"+strings.SplitN(k.Name, "/", 2)[0]) {
				if _, ok := r.samples[k][unit]; !ok {
					return fmt.Sprintf("cut off: go test -bench '%s' ./%s ran out of time (the report stops a package after %s)", t.pattern, t.pkg, t.after)
				}
			}
		}
	}
	if units, ok := r.samples[k]; ok {
		have := make([]string, 0, len(units))
		for u := range units {
			have = append(have, u)
		}
		slices.Sort(have)
		return fmt.Sprintf("reports no %s (only %s)", unit, strings.Join(have, ", "))
	}
	if !r.ran[k.Pkg] {
		return "package ./" + k.Pkg + " was not run"
	}
	return "no benchmark " + k.Name + " in ./" + k.Pkg + " yet"
}

// maxSamples is the most samples any figure has: the -count of a saved run.
func (r *Results) maxSamples() int {
	n := 0
	for _, units := range r.samples {
		for _, vs := range units {
			n = max(n, len(vs))
		}
	}
	return n
}

// Keys lists the benchmarks in the order they first appeared.
func (r *Results) Keys() []key { return r.order }

// Units lists a benchmark's units, ns/op first, then alphabetically.
func (r *Results) Units(k key) []string {
	var us []string
	for u := range r.samples[k] {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b string) int {
		if a == "ns/op" || b == "ns/op" {
			return boolCmp(b == "ns/op", a == "ns/op")
		}
		return strings.Compare(a, b)
	})
	return us
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ReadAll is Add over a whole reader.
func (r *Results) ReadAll(rd io.Reader) error {
	data, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	return r.Add(data)
}
