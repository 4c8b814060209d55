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
}

// Report renders one run's results as Markdown.
type Report struct {
	Res      *Results
	Info     RunInfo
	FragDir  string // docs/bench: the sections' prose
	Charts   []Chart
	Warnings []string
}

// figure is one measure's median, or why there is none.
type figure struct {
	M   Measure
	V   float64
	N   int
	OK  bool
	Why string
}

func (r *Report) fig(m Measure) figure {
	v, n, ok := r.Res.Median(m.key(), m.Unit)
	f := figure{M: m, V: v, N: n, OK: ok}
	if !ok {
		f.Why = r.Res.Why(m.key(), m.Unit)
	}
	return f
}

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

// ratio compares a forkless figure with a rival's.
func ratio(f, r figure) (float64, bool) {
	if !f.OK || !r.OK {
		return 0, false
	}
	return Speedup(f.V, f.M.Unit, r.V, r.M.Unit)
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
			if x, ok := ratio(r.fig(w.Forkless), r.fig(rv)); ok {
				name := w.Short
				if name == "" {
					name = w.What
				}
				hs = append(hs, headline{Label: name + " vs " + rv.Label, Ratio: x})
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
			if f := r.fig(w.Forkless); f.OK {
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
			if f := r.fig(m); f.OK {
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
			if x, ok := ratio(r.fig(w.Forkless), r.fig(m)); ok {
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
			x, _ := ratio(r.fig(w.Forkless), r.fig(m))
			return x
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
	p("<!-- Generated by bench/report: do not edit by hand. Prose comes from docs/bench/*.md. -->\n\n")
	if in.Partial != "" {
		p("> **Partial run** (%s): only some packages or benchmarks ran; this is not the checked-in report.\n\n", in.Partial)
	}
	p("Regenerate this page and its charts from the repository root with\n\n")
	p("```sh\ngo -C bench/report run .\n```\n\n")
	p("It runs the packages' own `go test` benchmarks (`go test -run '^$' -bench PATTERN -count %d -benchtime %s`; "+
		"round trips run 20000 iterations each), one package at a time, with their rivals in the same run, "+
		"and quotes the median of the %d runs of each figure. "+
		"A ratio is always between two figures of the same run, because absolute timings on a shared machine drift. "+
		"Any single row can be reproduced with plain `go test -bench`, as each section shows. "+
		"The raw output is in [bench/results.txt](bench/results.txt) (`benchstat` reads it).\n\n",
		in.Count, in.Benchtime, in.Count)
	p("In the tables, each rival's cell shows its median and, in bold, how many times faster forkless is than that rival " +
		"(below 1×, forkless was slower). Rates are compared as rates and times as times; " +
		"\"not measured\", \"skipped\" or \"failed\" means the run produced no such figure, and [Not measured](#not-measured) says why.\n\n")
	p("## Machine and versions\n\n")
	m := in.Machine
	p("| | |\n|---|---|\n")
	p("| CPU | %s |\n| cores | %d |\n| memory | %s |\n| kernel | %s (%s) |\n| Go | %s |\n| Python | %s |\n",
		m.CPU, m.Cores, m.Memory, m.Kernel, m.OS, m.Go, m.Python)
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

	if hs := r.Headlines(); len(hs) > 0 {
		p("## Headlines\n\n")
		p("| Workload | forkless is |\n|---|---|\n")
		for _, h := range hs {
			word := "faster"
			if h.Ratio < 1 {
				word = "(slower)"
			}
			p("| %s | **%s** %s |\n", h.Label, formatRatio(h.Ratio), word)
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
		if frag != "" {
			p("%s\n\n", strings.TrimSpace(frag))
		}
	}
	if frag := r.fragment("scaling.md"); frag != "" {
		p("%s\n\n", strings.TrimSpace(frag))
	}
	r.missing(&b)
	r.appendix(&b)
	return b.Bytes(), nil
}

// table writes a section's rows as a matrix: the forkless figure, then one
// column per rival (in the order the rows first name them), each cell the
// rival's figure and how many times faster forkless is.
func (r *Report) table(b *bytes.Buffer, rows []Workload) {
	var labels []string
	for _, w := range rows {
		for _, rv := range w.Rivals {
			if !slices.Contains(labels, rv.Label) {
				labels = append(labels, rv.Label)
			}
		}
	}
	b.WriteString("| Workload | forkless |")
	for _, l := range labels {
		fmt.Fprintf(b, " %s |", l)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(labels)) + "\n")
	var cmds []key
	for _, w := range rows {
		f := r.fig(w.Forkless)
		what := w.What
		if w.Target != "" {
			what += " (target: " + w.Target + ")"
		}
		cmds = append(cmds, w.Forkless.key())
		fmt.Fprintf(b, "| %s | %s |", what, f.String())
		for _, l := range labels {
			i := slices.IndexFunc(w.Rivals, func(m Measure) bool { return m.Label == l })
			if i < 0 {
				b.WriteString(" |")
				continue
			}
			rv := w.Rivals[i]
			cmds = append(cmds, rv.key())
			rf := r.fig(rv)
			cell := rf.String()
			if v, ok := ratio(f, rf); ok {
				if v < 1 {
					cell += " (**" + formatRatio(v) + "**, slower)"
				} else {
					cell += " (**" + formatRatio(v) + "**)"
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
	for _, k := range cmds {
		top, _, _ := strings.Cut(k.Name, "/")
		if _, ok := byPkg[k.Pkg]; !ok {
			pkgs = append(pkgs, k.Pkg)
		}
		if !slices.Contains(byPkg[k.Pkg], top) {
			byPkg[k.Pkg] = append(byPkg[k.Pkg], top)
		}
	}
	b.WriteString("Reproduce:")
	for i, pkg := range pkgs {
		sep := ";"
		if i == len(pkgs)-1 {
			sep = "."
		}
		fmt.Fprintf(b, " `go test -run '^$' -bench '^Benchmark(%s)$' -count %d ./%s`%s",
			strings.Join(byPkg[pkg], "|"), r.Info.Count, pkg, sep)
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
			f := r.fig(m)
			id := m.Pkg + "|" + m.Bench + "|" + m.Unit
			if f.OK || seen[id] {
				continue
			}
			seen[id] = true
			ms = append(ms, miss{fmt.Sprintf("%s (`./%s` %s, %s)", m.Label, m.Pkg, m.Bench, m.Unit), f.Why})
		}
	}
	if len(ms) == 0 {
		return
	}
	b.WriteString("## Not measured\n\n")
	b.WriteString("Figures the table asks for that this run did not produce, and why. No figure in this report is estimated or carried over from another run.\n\n")
	for _, m := range ms {
		fmt.Fprintf(b, "- %s: %s\n", m.what, escape(m.why))
	}
	b.WriteString("\n")
}

var pipeRe = regexp.MustCompile(`\|`)

func escape(s string) string { return pipeRe.ReplaceAllString(s, `\|`) }

// appendix lists every figure of the run, tabled or not.
func (r *Report) appendix(b *bytes.Buffer) {
	keys := r.Res.Keys()
	if len(keys) == 0 {
		return
	}
	b.WriteString("## Every figure of this run\n\n")
	b.WriteString("Medians of every benchmark the run produced, including those no table above quotes.\n\n")
	pkg := ""
	for _, k := range keys {
		if k.Pkg != pkg {
			if pkg != "" {
				b.WriteString("\n</details>\n\n")
			}
			pkg = k.Pkg
			fmt.Fprintf(b, "<details><summary>./%s</summary>\n\n| Benchmark | Medians (runs) |\n|---|---|\n", pkg)
		}
		var vs []string
		for _, u := range r.Res.Units(k) {
			v, n, _ := r.Res.Median(k, u)
			vs = append(vs, fmt.Sprintf("%s (%d)", formatValue(v, u), n))
		}
		fmt.Fprintf(b, "| %s | %s |\n", escape(k.Name), strings.Join(vs, ", "))
	}
	b.WriteString("\n</details>\n")
}
