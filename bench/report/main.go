// Command report runs forkless's benchmarks side by side with their rivals
// and writes docs/benchmarks.md and its charts.
//
// From the repository root:
//
//	go -C bench/report run .
//
// It runs `go test -run '^$' -bench PATTERN -count N -v` in each package of
// the workload table (workloads.go), one package at a time, keeps the raw output
// in docs/bench/results.txt (benchstat reads it), takes the median of each
// figure, compares each forkless figure with its rivals measured in the same
// run, and writes the report with the machine and versions it ran on. Prose
// comes from fragments under docs/bench/ (one per section, plus scaling.md),
// which are Go templates that may quote the run's figures.
//
// Flags narrow a run while developing (-pkg, -bench, -count 1; such a run
// writes to a temporary directory unless -out says otherwise, and says at
// its top that it is partial), re-render a report from a saved run (-from
// docs/bench/results.txt), or write elsewhere (-out). -timeout stops a
// package's go test that hangs, keeping what it measured.
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
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	var (
		count     = flag.Int("count", 3, "runs of each benchmark; the report quotes medians")
		benchtime = flag.String("benchtime", "300ms", "go test -benchtime for packages that set none")
		pkgFilter = flag.String("pkg", "", "run only packages whose directory matches this regexp")
		benchPat  = flag.String("bench", "", "override every package's -bench pattern")
		from      = flag.String("from", "", "render from this saved go test output instead of running")
		root      = flag.String("root", "", "repository root (default: found from the working directory)")
		out       = flag.String("out", "", "directory for benchmarks.md, img/ and bench/results.txt (default ROOT/docs; a run narrowed by -pkg or -bench: a temporary directory)")
		readme    = flag.String("readme", "", "also render bench/report/readme.tmpl (the README's \"why forkless\" with this run's headline ratios) to this file")
		limit     = flag.Duration("timeout", 3*time.Minute, "stop one package's go test after this long and go on with the others")
	)
	flag.Parse()
	pkgTimeout = *limit
	readmeOut = *readme
	if err := run(*count, *benchtime, *pkgFilter, *benchPat, *from, *root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(count int, benchtime, pkgFilter, benchPat, from, root, out string) error {
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	partial := pkgFilter != "" || benchPat != ""
	switch {
	case out == "" && partial:
		// A narrowed run must not overwrite the checked-in report.
		out = filepath.Join(os.TempDir(), "forkless-bench-report")
		fmt.Fprintf(os.Stderr, "report: a narrowed run writes to %s (use -out to choose)\n", out)
	case out == "":
		out = filepath.Join(root, "docs")
	}
	filter, err := regexp.Compile(pkgFilter)
	if err != nil {
		return fmt.Errorf("parse -pkg: %w", err)
	}
	const goCmd = "go"
	meta := RunInfo{
		Machine:   readMachine(goCmd),
		Count:     count,
		Benchtime: benchtime,
		Start:     time.Now().UTC(),
	}
	if partial {
		meta.Partial = fmt.Sprintf("-pkg %q -bench %q", pkgFilter, benchPat)
	}
	res := newResults()
	loadBefore := loadAvg()
	var raw bytes.Buffer
	if from != "" {
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		raw.Write(data)
		meta.From = from
		if err := res.Add(data); err != nil {
			return fmt.Errorf("parse %s: %w", from, err)
		}
		meta.Count = res.maxSamples() // what the saved run used, not the flag
	} else {
		for _, p := range packages {
			if !filter.MatchString(p.Dir) {
				continue
			}
			pat := p.Bench
			if benchPat != "" {
				pat = benchPat
			}
			if pat == "" {
				pat = "."
			}
			bt := p.Benchtime
			if bt == "" {
				bt = benchtime
			}
			args := []string{"test", "-run", "^$", "-bench", pat, "-count", fmt.Sprint(count),
				"-benchtime", bt, "-v", "./" + p.Dir}
			fmt.Fprintf(os.Stderr, "report: go %s\n", strings.Join(args, " "))
			t0 := time.Now()
			data, err := goTest(root, goCmd, args)
			fmt.Fprintf(os.Stderr, "report: ./%s took %s\n", p.Dir, time.Since(t0).Round(time.Second))
			raw.Write(data)
			if perr := res.Add(data); perr != nil {
				return fmt.Errorf("parse output of ./%s: %w", p.Dir, perr)
			}
			res.ran[p.Dir] = true
			var te *timeoutError
			switch {
			case errors.As(err, &te):
				// What finished before the deadline still counts; the
				// rest says why it is missing.
				res.timedOut(p.Dir, pat, te.after)
			case err != nil && !res.hasPkg(p.Dir):
				res.pkgFail[p.Dir] = lastLines(data, 3)
			}
		}
		meta.Machine.LoadAvg = loadBefore + " before, " + loadAvg() + " after"
		meta.End = time.Now().UTC()
	}
	if err := os.MkdirAll(filepath.Join(out, "img"), 0o755); err != nil {
		return err
	}
	if from == "" {
		if err := os.MkdirAll(filepath.Join(out, "bench"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "bench", "results.txt"), raw.Bytes(), 0o644); err != nil {
			return err
		}
	}
	rep := &Report{Res: res, Info: meta, FragDir: filepath.Join(root, "docs", "bench")}
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

// goTest runs go test in root and returns everything it printed, echoing
// the result lines to stderr as they come. It kills go test and everything
// it started (its process group) after pkgTimeout.
func goTest(root, goCmd string, args []string) ([]byte, error) {
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = root
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
