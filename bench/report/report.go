package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
)

// RunInfo is what the report says about the run itself.
type RunInfo struct {
	Machine    Machine
	Count      int
	Benchtime  string
	Start, End time.Time
	Partial    string // the filters of a narrowed run, or ""
	From       string // the saved output a re-rendered report came from
	Quick      bool   // a -quick smoke run
	Busy       int    // busy-loop processes of the loaded passes
	Passes     []Pass // each go test the run made, in order
}

// A Pass is one go test run of the report, and the load it ran under.
type Pass struct {
	Pkg, Pattern          string
	Load                  string // "" (quiet) or busyLoad
	LoadBefore, LoadAfter string // 1-minute load averages
	Took                  time.Duration
}

// Report renders one run's results as Markdown.
type Report struct {
	Res      *Results
	Info     RunInfo
	FragDir  string // docs/bench: the sections' prose
	Charts   []Chart
	Warnings []string
}

// figure is one measure's summary (median, confidence interval, spread),
// or why there is none.
type figure struct {
	M   Measure
	S   Stat
	V   float64 // S.Center
	OK  bool
	Why string
}

func (r *Report) fig(m Measure) figure { return r.figAt(m, "") }

// figAt is the figure of m measured under load ("" or busyLoad).
func (r *Report) figAt(m Measure, load string) figure {
	st, ok := r.Res.Stat(m.keyAt(load), m.Unit)
	f := figure{M: m, S: st, V: st.Center, OK: ok}
	if !ok {
		f.Why = r.Res.Why(m.keyAt(load), m.Unit)
	}
	return f
}

// fig is the figure of m in row w, under the row's load.
func (w Workload) fig(r *Report, m Measure) figure { return r.figAt(m, w.Load) }

func (f figure) String() string {
	if !f.OK {
		for _, v := range []string{"skipped", "failed"} {
			if strings.HasPrefix(f.Why, v) {
				return v
			}
		}
		return "not measured"
	}
	return formatValue(f.V, f.M.Unit)
}

// Cell is the figure with its confidence interval: "6.19M msgs/s ±3%"
// (one sample: the value alone).
func (f figure) Cell() string {
	if !f.OK || !f.S.bounded() {
		return f.String()
	}
	return f.String() + " " + f.S.CIPct()
}

// Spread is the range of the runs: "5.90M–6.40M msgs/s (6 runs)".
func (f figure) Spread() string {
	if !f.OK {
		return ""
	}
	if f.S.N < 2 {
		return "1 run"
	}
	return fmt.Sprintf("%s (%d runs)", formatRange(f.S.Min, f.S.Max, f.M.Unit), f.S.N)
}

// ratio compares a forkless figure with a rival's, medians to medians.
func ratio(f, r figure) (float64, bool) {
	rs, ok := ratioStat(f, r)
	return rs.Center, ok
}

// ratioStat compares a forkless figure with a rival's, with the range
// their confidence intervals allow.
func ratioStat(f, r figure) (RatioStat, bool) {
	if !f.OK || !r.OK {
		return RatioStat{}, false
	}
	return ratioOf(f.S, f.M.Unit, r.S, r.M.Unit)
}

// Headlines are the rows marked Headline that have both figures, in table
// order.
func (r *Report) Headlines() []headline {
	var hs []headline
	for _, w := range workloads {
		if w.Headline == "" {
			continue
		}
		for _, rv := range w.Rivals {
			if rv.Label != w.Headline {
				continue
			}
			if x, ok := ratioStat(w.fig(r, w.Forkless), w.fig(r, rv)); ok {
				name := w.Short
				if name == "" {
					name = w.What
				}
				hs = append(hs, headline{Label: name + " vs " + rv.Label, Ratio: x.Center, R: x})
			}
		}
	}
	return hs
}

func (r *Report) workload(id string) (Workload, bool) {
	for _, w := range workloads {
		if w.ID == id {
			return w, true
		}
	}
	r.Warnings = append(r.Warnings, "a fragment names workload "+id+", which is not in the table")
	return Workload{}, false
}

func (r *Report) rival(w Workload, label string) (Measure, bool) {
	for _, m := range w.Rivals {
		if m.Label == label {
			return m, true
		}
	}
	r.Warnings = append(r.Warnings, "workload "+w.ID+" has no rival "+label)
	return Measure{}, false
}

// funcs are what a fragment may call:
//
//	{{fig "stream/64B/1p1c"}}                  the forkless figure of a row
//	{{rival "stream/64B/1p1c" "os.Pipe"}}      a rival's figure
//	{{ratio "stream/64B/1p1c" "os.Pipe"}}      how many times faster forkless is
//	{{speedup "stream/64B/1p1c" "os.Pipe"}}    the same as a number (0: not measured)
//	{{spread "dict/set/2"}}                    the range of a row's forkless runs
//	{{value "bench" "PingPong/impl=pipe" "p99-ns"}}   any benchmark's median
//	{{.Machine.Cores}}, {{.Count}}             the run
func (r *Report) funcs() template.FuncMap {
	na := "n/a (not measured in this run)"
	return template.FuncMap{
		"fig": func(id string) string {
			w, ok := r.workload(id)
			if !ok {
				return na
			}
			if f := w.fig(r, w.Forkless); f.OK {
				return f.String()
			}
			return na
		},
		"rival": func(id, label string) string {
			w, ok := r.workload(id)
			if !ok {
				return na
			}
			m, ok := r.rival(w, label)
			if !ok {
				return na
			}
			if f := w.fig(r, m); f.OK {
				return f.String()
			}
			return na
		},
		"ratio": func(id, label string) string {
			w, ok := r.workload(id)
			if !ok {
				return na
			}
			m, ok := r.rival(w, label)
			if !ok {
				return na
			}
			if x, ok := ratio(w.fig(r, w.Forkless), w.fig(r, m)); ok {
				return formatRatio(x)
			}
			return na
		},
		// speedup is the bare ratio (0 when not measured), for {{if}}s:
		// {{if gt (speedup "pipe/p50" "os.Pipe") 1.0}}...{{end}}
		"speedup": func(id, label string) float64 {
			w, ok := r.workload(id)
			if !ok {
				return 0
			}
			m, ok := r.rival(w, label)
			if !ok {
				return 0
			}
			x, _ := ratio(w.fig(r, w.Forkless), w.fig(r, m))
			return x
		},
		// spread is the range of a row's forkless runs and how far apart
		// they lay: "230 – 714 ns (6 runs, 3.10× apart)".
		"spread": func(id string) string {
			w, ok := r.workload(id)
			if !ok {
				return na
			}
			f := w.fig(r, w.Forkless)
			if !f.OK {
				return na
			}
			if x := f.S.SpreadRatio(); f.S.N > 1 && x > 0 {
				return fmt.Sprintf("%s (%d runs, %s apart)", formatRange(f.S.Min, f.S.Max, f.M.Unit), f.S.N, formatRatio(x))
			}
			return f.Spread()
		},
		"value": func(pkg, name, unit string) string {
			if f := r.fig(Measure{Pkg: pkg, Bench: name, Unit: unit}); f.OK {
				return f.String()
			}
			return na
		},
	}
}

// fragment renders docs/bench/NAME as a template; a missing file is "".
func (r *Report) fragment(name string) string {
	return r.render(filepath.Join(r.FragDir, name))
}

// render executes the template in the file at path with the run's figures.
func (r *Report) render(path string) string {
	name := filepath.Base(path)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		r.Warnings = append(r.Warnings, err.Error())
		return ""
	}
	t, err := template.New(name).Funcs(r.funcs()).Parse(string(b))
	if err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("fragment %s is not a valid template, included as written: %v", name, err))
		return string(b)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, r.Info); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("fragment %s: %v", name, err))
		return string(b)
	}
	return out.String()
}

// Markdown writes the whole report.
func (r *Report) Markdown() ([]byte, error) {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	in := r.Info
	p("# Benchmarks\n\n")
	p("<!-- Generated by bench/report: do not edit by hand. Section prose comes from bench/report/prose/*.md. -->\n\n")
	if in.Partial != "" {
		p("> **Partial run** (%s): only some packages or benchmarks ran; this is not the checked-in report.\n\n", in.Partial)
	}
	if in.Quick {
		p("> **Smoke run** (-quick: one run of each figure, short benchtimes): a check that everything runs, not the checked-in report.\n\n")
	}
	p("Regenerate this page and its charts from the repository root with\n\n")
	p("```sh\ngo -C bench/report run .\n```\n\n")
	p("It runs the packages' own `go test` benchmarks (`go test -run '^$' -bench PATTERN -count %d`, -benchtime %s "+
		"unless a package sets its own: round trips run a fixed number of iterations), one package at a time, "+
		"with their rivals (os.Pipe, Unix sockets, Go channels, Python's `multiprocessing`, cloudwego/shmipc-go) in the same run. ",
		in.Count, in.Benchtime)
	p("Each figure is the **median of %d runs ± its 95%% confidence interval** (the distribution-free interval of "+
		"golang.org/x/perf's benchmath, as `benchstat` prints it: the larger distance of a bound from the median), "+
		"and the tables also give the range of the runs (fastest to slowest). "+
		"A ratio always compares two figures of the same run, because absolute timings on a shared machine drift; "+
		"the range after a ratio is what the two confidence intervals allow at worst and at best. "+
		"The raw output is in [bench/results.txt](bench/results.txt) (`benchstat` reads it; the `load:` lines keep quiet and loaded passes apart).\n\n",
		in.Count)
	if in.Count < 6 {
		p("> This run made %d run(s) of each figure: a 95%% confidence interval needs at least 6, so cells show the median alone.\n\n", in.Count)
	}
	if in.Busy > 0 {
		p("Round trips are measured twice: on the machine as it is (\"quiet\"), and **loaded**, with %d "+
			"busy-loop processes (%s per core) running for the whole pass, so that every process of the round trip competes for a core. "+
			"Loaded rows are marked as such and sit next to their quiet rows.\n\n", in.Busy, busyPerCoreDesc(in))
	}
	p("In the tables, each rival's cell shows its median and, in bold, how many times faster forkless is than that rival " +
		"(below 1×, forkless was slower). Rates are compared as rates and times as times; " +
		"\"not measured\", \"skipped\" or \"failed\" means the run produced no such figure, and [Not measured](#not-measured) says why.\n\n")
	r.machine(&b)

	if hs := r.Headlines(); len(hs) > 0 {
		p("## Headlines\n\n")
		p("| Workload | forkless is | 95%% range |\n|---|---|---|\n")
		for _, h := range hs {
			word := "faster"
			if h.Ratio < 1 {
				word = "(slower)"
			}
			rng := "n/a (too few runs)"
			if h.R.Bounded {
				rng = fmt.Sprintf("%s – %s", formatRatio(h.R.Lo), formatRatio(h.R.Hi))
			}
			p("| %s | **%s** %s | %s |\n", h.Label, formatRatio(h.Ratio), word, rng)
		}
		p("\n")
	}
	for _, c := range r.Charts {
		p("![%s](img/%s)\n\n", c.Alt, c.File)
	}

	for _, s := range sections {
		var rows []Workload
		for _, w := range workloads {
			if w.Section == s.ID {
				rows = append(rows, w)
			}
		}
		var frags []string
		for _, name := range s.Fragments {
			if f := strings.TrimSpace(r.fragment(name)); f != "" {
				frags = append(frags, f)
			}
		}
		frag := strings.Join(frags, "\n\n")
		if len(rows) == 0 && frag == "" {
			continue
		}
		p("## %s\n\n", s.Title)
		if frag != "" {
			p("%s\n\n", strings.TrimSpace(frag))
		}
		for len(rows) > 0 {
			n := 1
			for n < len(rows) && rows[n].Group == rows[0].Group {
				n++
			}
			if rows[0].Group != "" {
				p("### %s\n\n", rows[0].Group)
			}
			r.table(&b, rows[:n])
			rows = rows[n:]
		}
	}
	r.missing(&b)
	r.appendix(&b)
	return b.Bytes(), nil
}

func busyPerCoreDesc(in RunInfo) string {
	if in.Machine.Cores == 0 {
		return "?"
	}
	return trim(float64(in.Busy) / float64(in.Machine.Cores))
}

// machine writes the machine table and the load each pass ran under.
func (r *Report) machine(b *bytes.Buffer) {
	in := r.Info
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## Machine, versions and load\n\n")
	m := in.Machine
	p("| | |\n|---|---|\n")
	p("| CPU | %s |\n| cores | %d |\n| memory | %s |\n| kernel | %s (%s) |\n| Go | %s |\n| Python | %s |\n",
		m.CPU, m.Cores, m.Memory, m.Kernel, m.OS, m.Go, m.Python)
	if m.Shmipc != "" {
		p("| shmipc-go | %s |\n", m.Shmipc)
	}
	if !in.Start.IsZero() && !in.End.IsZero() {
		p("| run | %s, %s |\n", in.Start.Format("2006-01-02 15:04 UTC"), in.End.Sub(in.Start).Round(time.Second))
	}
	if m.LoadAvg != "" {
		p("| load average (1 min) | %s |\n", m.LoadAvg)
	}
	if in.From != "" {
		p("| rendered from | %s (machine rows describe the machine that rendered it) |\n", in.From)
	}
	p("\n")
	if len(in.Passes) == 0 {
		return
	}
	p("Each pass of the run, with the 1-minute load average when it started and ended " +
		"(the load includes the benchmark's own processes, and in a loaded pass the busy loops):\n\n")
	p("| package | benchmarks | machine | load average | took |\n|---|---|---|---|---|\n")
	for _, ps := range in.Passes {
		cond := "quiet"
		if ps.Load == busyLoad {
			cond = fmt.Sprintf("**loaded** (%d busy loops)", in.Busy)
		}
		p("| ./%s | `%s` | %s | %s → %s | %s |\n", ps.Pkg, escape(ps.Pattern), cond, ps.LoadBefore, ps.LoadAfter, ps.Took.Round(time.Second))
	}
	p("\n")
}

// table writes a section's rows as a matrix: the forkless figure and the
// range of its runs, then one column per rival (in the order the rows first
// name them), each cell the rival's figure and how many times faster
// forkless is.
func (r *Report) table(b *bytes.Buffer, rows []Workload) {
	var labels []string
	for _, w := range rows {
		for _, rv := range w.Rivals {
			if !slices.Contains(labels, rv.Label) {
				labels = append(labels, rv.Label)
			}
		}
	}
	b.WriteString("| Workload | forkless | forkless, fastest – slowest run |")
	for _, l := range labels {
		fmt.Fprintf(b, " %s |", l)
	}
	b.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(labels)) + "\n")
	type cmd struct {
		k    key
		load string
	}
	var cmds []cmd
	for _, w := range rows {
		f := w.fig(r, w.Forkless)
		what := w.What
		if w.Load == busyLoad {
			what = "**loaded:** " + what
		}
		cmds = append(cmds, cmd{w.Forkless.key(), w.Load})
		fmt.Fprintf(b, "| %s | %s | %s |", what, f.Cell(), f.Spread())
		for _, l := range labels {
			i := slices.IndexFunc(w.Rivals, func(m Measure) bool { return m.Label == l })
			if i < 0 {
				b.WriteString(" |")
				continue
			}
			rv := w.Rivals[i]
			cmds = append(cmds, cmd{rv.key(), w.Load})
			rf := w.fig(r, rv)
			cell := rf.Cell()
			if v, ok := ratioStat(f, rf); ok {
				cell += ", **" + formatRatio(v.Center) + "**"
				if v.Bounded && v.Lo != v.Hi {
					cell += fmt.Sprintf(" (%s–%s)", trimRatio(v.Lo), formatRatio(v.Hi))
				}
				if v.Center < 1 {
					cell += " slower"
				}
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	// How to reproduce: one go test per package, with the top-level
	// benchmarks of these rows.
	byPkg := map[string][]string{}
	var pkgs []string
	loaded := false
	for _, c := range cmds {
		top, _, _ := strings.Cut(c.k.Name, "/")
		if _, ok := byPkg[c.k.Pkg]; !ok {
			pkgs = append(pkgs, c.k.Pkg)
		}
		if !slices.Contains(byPkg[c.k.Pkg], top) {
			byPkg[c.k.Pkg] = append(byPkg[c.k.Pkg], top)
		}
		loaded = loaded || c.load == busyLoad
	}
	b.WriteString("Reproduce:")
	for i, pkg := range pkgs {
		sep := ";"
		if i == len(pkgs)-1 {
			sep = "."
		}
		mod, dir := inModule(pkg)
		prefix := ""
		if mod != "" {
			prefix = "-C " + mod + " "
		}
		fmt.Fprintf(b, " `go %stest -run '^$' -bench '^Benchmark(%s)$' -count %d %s`%s",
			prefix, strings.Join(byPkg[pkg], "|"), r.Info.Count, dir, sep)
	}
	if loaded {
		fmt.Fprintf(b, " Loaded rows: the same, with `go -C bench/report run . -busy-loops` running beside it (%d busy loops).", r.Info.Busy)
	}
	b.WriteString("\n\n")
}

// missing lists every figure the table asked for and the run did not
// produce, with the reason.
func (r *Report) missing(b *bytes.Buffer) {
	type miss struct{ what, why string }
	var ms []miss
	seen := map[string]bool{}
	for _, w := range workloads {
		for _, m := range append([]Measure{w.Forkless}, w.Rivals...) {
			f := w.fig(r, m)
			id := m.Pkg + "|" + m.Bench + "|" + m.Unit + "|" + w.Load
			if f.OK || seen[id] {
				continue
			}
			seen[id] = true
			load := ""
			if w.Load != "" {
				load = ", loaded"
			}
			ms = append(ms, miss{fmt.Sprintf("%s (`./%s` %s, %s%s)", m.Label, m.Pkg, m.Bench, m.Unit, load), f.Why})
		}
	}
	if len(ms) == 0 {
		return
	}
	b.WriteString("## Not measured\n\n")
	b.WriteString("Figures the tables ask for that this run did not produce, and why. No figure in this report is estimated or carried over from another run.\n\n")
	for _, m := range ms {
		fmt.Fprintf(b, "- %s: %s\n", m.what, escape(m.why))
	}
	b.WriteString("\n")
}

var pipeRe = regexp.MustCompile(`\|`)

func escape(s string) string { return pipeRe.ReplaceAllString(s, `\|`) }
