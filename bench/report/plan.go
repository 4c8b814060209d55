package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// quickBenchtime shortens a benchtime for a -quick smoke run: a tenth of
// a fixed iteration count (at least 100), and 50ms for a duration.
func quickBenchtime(bt string) string {
	if n, ok := strings.CutSuffix(bt, "x"); ok {
		if v, err := strconv.Atoi(n); err == nil {
			return strconv.Itoa(max(v/10, 100)) + "x"
		}
	}
	if d, err := time.ParseDuration(bt); err == nil && d > 50*time.Millisecond {
		return "50ms"
	}
	return bt
}

// estimate adds up the package table's timings for count runs of each
// selected package (a tenth of them, roughly, for a quick run).
func estimate(ps []Package, count int, quick bool) time.Duration {
	var d time.Duration
	for _, p := range ps {
		per := p.PerRun
		if quick {
			per /= 8
		}
		d += passSetup + time.Duration(count)*per
	}
	return d
}

// passSetup is what one go test costs besides its benchmarks (building,
// linking, starting): measured on the 2-core machine.
const passSetup = 6 * time.Second

// moduleOf says which nested module (a directory of the repository with a
// go.mod of its own) holds a package directory: its benchmarks run from
// there.
func moduleOf(dir string) (string, bool) {
	for _, m := range nestedModules {
		if dir == m || strings.HasPrefix(dir, m+"/") {
			return m, true
		}
	}
	return "", false
}

// inModule returns where go test runs for a package directory and the
// package argument it takes there: the repository root and ./dir, or a
// nested module's root and the directory inside it ("." for its root).
func inModule(dir string) (moduleDir, pkgArg string) {
	mod, ok := moduleOf(dir)
	if !ok {
		return "", "./" + dir
	}
	if dir == mod {
		return mod, "."
	}
	return mod, "./" + strings.TrimPrefix(dir, mod+"/")
}

// nestedModules are the modules of the repository whose benchmarks the
// report runs besides the library's.
var nestedModules = []string{"bench/report", "cluster"}

var shmipcRe = regexp.MustCompile(`(?m)^\s*github\.com/cloudwego/shmipc-go (v\S+)`)

// shmipcVersion is the shmipc-go version the report's module requires.
func shmipcVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "bench", "report", "go.mod"))
	if err != nil {
		return ""
	}
	if m := shmipcRe.FindSubmatch(b); m != nil {
		return string(bytes.TrimSpace(m[1]))
	}
	return ""
}

var busyRe = regexp.MustCompile(`(?m)^busy-loops: (\d+)$`)

// savedBusy reads the busy-loop count a saved run recorded (0 when it
// recorded none: a run from before the loaded passes).
func savedBusy(raw []byte) int {
	m := busyRe.FindSubmatch(raw)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
