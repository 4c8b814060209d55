// Command report runs forkless's benchmarks side by side with their rivals
// and writes docs/benchmarks.md and its charts.
//
// From the repository root:
//
//	go -C bench/report run .
//
// It runs `go test -run '^$' -bench PATTERN -count N -v` for each pass of
// the package table (workloads.go), one at a time, keeps the raw output in
// docs/bench/results.txt (benchstat reads it), and summarizes each figure by
// its median and 95% confidence interval (golang.org/x/perf's benchmath,
// as benchstat does) and the range of its runs. Each forkless figure is
// compared with its rivals measured in the same run (Python through the
// scripts in bench/python, cloudwego/shmipc-go through ./shmipcbench in this
// module), each ratio with the range the two intervals allow. The round-trip
// passes run twice: quiet, and loaded, with busy-loop processes (this
// binary, re-executed; -busy per core) on every core; a "load:" line before
// each pass's output keeps the two apart. The report states the machine,
// versions and the load average of every pass. Prose comes from
// bench/report/prose (one file per section), Go templates that may quote
// the run's figures.
//
// -count defaults to 6, the fewest runs that give a 95% interval; -estimate
// prints how long a run takes on a quiet 2-core machine (about a quarter
// of an hour at -count 6). -quick is a smoke run (one run of each figure,
// short benchtimes). Flags narrow a run while developing (-pkg, -bench);
// such a run, like -quick, writes to a temporary directory unless -out
// says otherwise, and says at its top what it is. -from re-renders a report
// from a saved run; -timeout stops a package's go test that hangs, keeping
// what it measured; -busy-loops only starts the busy loops, to reproduce a
// loaded row by hand.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	if os.Getenv(envBusy) != "" {
		busyLoop() // a busy process of a loaded pass: never returns
	}
	var (
		count     = flag.Int("count", 6, "runs of each benchmark; the report quotes medians with 95% confidence intervals (6 is the fewest that give one)")
		quick     = flag.Bool("quick", false, "a smoke run: -count 1 and short benchtimes (figures without confidence intervals; writes to a temporary directory unless -out says otherwise)")
		benchtime = flag.String("benchtime", "300ms", "go test -benchtime for packages that set none")
		pkgFilter = flag.String("pkg", "", "run only packages whose directory matches this regexp")
		benchPat  = flag.String("bench", "", "override every package's -bench pattern")
		from      = flag.String("from", "", "render from this saved go test output instead of running")
		root      = flag.String("root", "", "repository root (default: found from the working directory)")
		out       = flag.String("out", "", "directory for benchmarks.md, img/ and bench/results.txt (default ROOT/docs; a run narrowed by -pkg or -bench, or -quick: a temporary directory)")
		readme    = flag.String("readme", "", "also render bench/report/readme.tmpl (the README's \"why forkless\" with this run's headline ratios) to this file")
		limit     = flag.Duration("timeout", 5*time.Minute, "stop one package's go test after this long and go on with the others")
		perCore   = flag.Int("busy", 2, "busy-loop processes per core during the loaded passes")
		busyOnly  = flag.Bool("busy-loops", false, "only start the busy loops of a loaded pass and wait (Ctrl-C ends them): to reproduce a loaded row by hand")
		estimate  = flag.Bool("estimate", false, "print how long the run would take on this machine, and exit")
	)
	flag.Parse()
	pkgTimeout = *limit
	readmeOut = *readme
	nBusy := *perCore * runtime.NumCPU()
	if *busyOnly {
		if err := busyUntilInterrupted(nBusy); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		return
	}
	cfg := runConfig{count: *count, benchtime: *benchtime, pkgFilter: *pkgFilter, benchPat: *benchPat,
		from: *from, root: *root, out: *out, busy: nBusy, quick: *quick}
	if *quick {
		cfg.count = 1
	}
	if *estimate {
		fmt.Fprintln(os.Stderr, "report:", estimateRun(cfg))
		return
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// runConfig is what the flags ask of one run.
type runConfig struct {
	count                          int
	benchtime, pkgFilter, benchPat string
	from, root, out                string
	busy                           int // busy-loop processes of a loaded pass
	quick                          bool
}

// selected lists the packages of the table that the run's -pkg keeps.
func (c runConfig) selected() ([]Package, error) {
	filter, err := regexp.Compile(c.pkgFilter)
	if err != nil {
		return nil, fmt.Errorf("parse -pkg: %w", err)
	}
	var ps []Package
	for _, p := range packages {
		if filter.MatchString(p.Dir) {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// estimateRun says how long the run would take, from the package table's
// timings on this machine.
func estimateRun(c runConfig) string {
	ps, err := c.selected()
	if err != nil {
		return err.Error()
	}
	d := estimate(ps, c.count, c.quick)
	return fmt.Sprintf("estimated %s for %d passes at -count %d (from timings on a quiet 2-core machine; this one has %d cores, and a busy machine takes longer)",
		d.Round(time.Minute), len(ps), c.count, runtime.NumCPU())
}

func run(c runConfig) error {
	root := c.root
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	partial := c.pkgFilter != "" || c.benchPat != ""
	out := c.out
	switch {
	case out == "" && (partial || c.quick):
		// A narrowed or quick run must not overwrite the checked-in report.
		out = filepath.Join(os.TempDir(), "forkless-bench-report")
		fmt.Fprintf(os.Stderr, "report: a narrowed or quick run writes to %s (use -out to choose)\n", out)
	case out == "":
		out = filepath.Join(root, "docs")
	}
	ps, err := c.selected()
	if err != nil {
		return err
	}
	const goCmd = "go"
	meta := RunInfo{
		Machine:   readMachine(goCmd),
		Count:     c.count,
		Benchtime: c.benchtime,
		Start:     time.Now().UTC(),
		Busy:      c.busy,
	}
	meta.Machine.Shmipc = shmipcVersion(root)
	if c.quick {
		meta.Benchtime = quickBenchtime(c.benchtime)
	}
	switch {
	case partial:
		meta.Partial = fmt.Sprintf("-pkg %q -bench %q", c.pkgFilter, c.benchPat)
	case c.quick:
		meta.Quick = true
	}
	res := newResults()
	loadBefore := loadAvg()
	var raw bytes.Buffer
	if c.from != "" {
		data, err := os.ReadFile(c.from)
		if err != nil {
			return err
		}
		raw.Write(data)
		meta.From = c.from
		meta.Busy = savedBusy(data)
		meta.Benchtime = "as the saved run set it"
		if err := res.Add(data); err != nil {
			return fmt.Errorf("parse %s: %w", c.from, err)
		}
		meta.Count = res.maxSamples() // what the saved run used, not the flag
	} else {
		fmt.Fprintf(os.Stderr, "report: %s\n", estimateRun(c))
		fmt.Fprintf(&raw, "busy-loops: %d\n", c.busy) // for a report rendered later with -from
		for _, p := range ps {
			pass, data, err := runPass(root, goCmd, p, c)
			meta.Passes = append(meta.Passes, pass)
			raw.WriteString("load: " + loadConfig(p.Load) + "\n")
			raw.Write(data)
			if perr := res.Add(append([]byte("load: "+loadConfig(p.Load)+"\n"), data...)); perr != nil {
				return fmt.Errorf("parse output of ./%s: %w", p.Dir, perr)
			}
			res.ran[p.Dir] = true
			var te *timeoutError
			switch {
			case errors.As(err, &te):
				// What finished before the deadline still counts; the
				// rest says why it is missing.
				res.timedOut(p.Dir, pass.Pattern, p.Load, te.after)
			case err != nil && !res.hasPkg(p.Dir):
				res.pkgFail[p.Dir] = lastLines(data, 3)
			}
		}
		meta.Machine.LoadAvg = loadBefore + " before, " + loadAvg() + " after"
		meta.End = time.Now().UTC()
		fmt.Fprintf(os.Stderr, "report: the run took %s\n", meta.End.Sub(meta.Start).Round(time.Second))
	}
	return write(root, out, c.from == "", raw.Bytes(), res, meta)
}

// loadConfig is the value of the "load:" configuration line of a pass.
func loadConfig(load string) string {
	if load == "" {
		return quietLoad
	}
	return load
}

// runPass runs one package's go test, with busy loops beside it for a
// loaded pass.
func runPass(root, goCmd string, p Package, c runConfig) (Pass, []byte, error) {
	pat := p.Bench
	if c.benchPat != "" {
		pat = c.benchPat
	}
	if pat == "" {
		pat = "."
	}
	bt := p.Benchtime
	if bt == "" {
		bt = c.benchtime
	}
	if c.quick {
		bt = quickBenchtime(bt)
	}
	mod, pkgArg := inModule(p.Dir)
	dir := filepath.Join(root, mod)
	args := []string{"test", "-run", "^$", "-bench", pat, "-count", fmt.Sprint(c.count),
		"-benchtime", bt, "-v", pkgArg}
	pass := Pass{Pkg: p.Dir, Pattern: pat, Load: p.Load}
	if p.Load == busyLoad {
		// Build first, on a quiet machine, so that the busy loops only
		// share the cores with the benchmark.
		build := exec.Command(goCmd, "test", "-run", "^$", "-count", "1", pkgArg)
		build.Dir = dir
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "report: build ./%s: %v\n%s", p.Dir, err, out)
		}
		stop, err := startBusy(c.busy)
		if err != nil {
			return pass, nil, err
		}
		defer stop()
		fmt.Fprintf(os.Stderr, "report: %d busy loops running\n", c.busy)
	}
	fmt.Fprintf(os.Stderr, "report: (in %s) go %s\n", dir, strings.Join(args, " "))
	pass.LoadBefore = loadAvg()
	t0 := time.Now()
	data, err := goTest(dir, goCmd, args)
	pass.Took = time.Since(t0)
	pass.LoadAfter = loadAvg()
	fmt.Fprintf(os.Stderr, "report: ./%s took %s (load %s -> %s)\n", p.Dir, pass.Took.Round(time.Second), pass.LoadBefore, pass.LoadAfter)
	return pass, data, err
}

// write renders the report, its charts and the raw output into out.
func write(root, out string, saveRaw bool, raw []byte, res *Results, meta RunInfo) error {
	if err := os.MkdirAll(filepath.Join(out, "img"), 0o755); err != nil {
		return err
	}
	if saveRaw {
		if err := os.MkdirAll(filepath.Join(out, "bench"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "bench", "results.txt"), raw, 0o644); err != nil {
			return err
		}
	}
	rep := &Report{Res: res, Info: meta, FragDir: filepath.Join(root, "bench", "report", "prose")}
	charts, err := drawCharts(res, filepath.Join(out, "img"), rep.Headlines())
	if err != nil {
		return fmt.Errorf("draw charts: %w", err)
	}
	rep.Charts = charts
	md, err := rep.Markdown()
	if err != nil {
		return err
	}
	dst := filepath.Join(out, "benchmarks.md")
	if err := os.WriteFile(dst, md, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s and %d charts\n", dst, len(charts))
	if readmeOut != "" {
		text := rep.render(filepath.Join(root, "bench", "report", "readme.tmpl"))
		if err := os.WriteFile(readmeOut, []byte(text), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "report: wrote %s\n", readmeOut)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(os.Stderr, "report: warning:", w)
	}
	return nil
}

// readmeOut is where -readme renders the README section, or "".
var readmeOut string

// pkgTimeout bounds one go test run: a benchmark that hangs (a deadlocked
// baseline script, say) must not stop the report.
var pkgTimeout = 3 * time.Minute

type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("timed out after %s", e.after) }

// goTest runs go test in dir and returns everything it printed, echoing
// the result lines to stderr as they come. It kills go test and everything
// it started (its process group) after pkgTimeout.
func goTest(dir, goCmd string, args []string) ([]byte, error) {
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = dir
	ownGroup(cmd)
	var buf bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		tee := io.TeeReader(pr, &buf)
		var line []byte
		b := make([]byte, 4096)
		for {
			n, err := tee.Read(b)
			for _, c := range b[:n] {
				if c != '\n' {
					line = append(line, c)
					continue
				}
				s := string(line)
				if (strings.HasPrefix(s, "Benchmark") && strings.Contains(s, "\t")) ||
					strings.HasPrefix(s, "--- ") || strings.HasPrefix(s, "ok ") || strings.HasPrefix(s, "FAIL") {
					fmt.Fprintln(os.Stderr, "  "+s)
				}
				line = line[:0]
			}
			if err != nil {
				return
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		pw.Close()
		<-done
		return nil, err
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(pkgTimeout, func() {
		timedOut.Store(true)
		killGroup(cmd)
	})
	err := cmd.Wait()
	timer.Stop()
	pw.Close()
	<-done
	if timedOut.Load() {
		fmt.Fprintf(os.Stderr, "report: killed after %s\n", pkgTimeout)
		return buf.Bytes(), &timeoutError{pkgTimeout}
	}
	return buf.Bytes(), err
}

func lastLines(data []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

func (r *Results) hasPkg(dir string) bool {
	for _, k := range r.order {
		if k.Pkg == dir {
			return true
		}
	}
	return false
}

// findRoot walks up from the working directory to the library's go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the repository root: no go.mod of " + modulePath + " above the working directory (use -root)")
		}
		dir = parent
	}
}
