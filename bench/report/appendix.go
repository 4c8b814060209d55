package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// appendix lists every figure of the run, tabled or not.
func (r *Report) appendix(b *bytes.Buffer) {
	keys := groupKeys(r.Res.Keys())
	if len(keys) == 0 {
		return
	}
	b.WriteString("## Every figure of this run\n\n")
	b.WriteString("Every benchmark the run produced, including those no table above quotes: median ± 95% confidence interval [fastest – slowest run] (runs).\n\n")
	group := ""
	for _, k := range keys {
		g := "./" + k.Pkg
		if k.Load != "" {
			g += ", loaded"
		}
		if g != group {
			if group != "" {
				b.WriteString("\n</details>\n\n")
			}
			group = g
			fmt.Fprintf(b, "<details><summary>%s</summary>\n\n| Benchmark | Figures |\n|---|---|\n", g)
		}
		var vs []string
		for _, u := range r.Res.Units(k) {
			st, _ := r.Res.Stat(k, u)
			f := figure{M: Measure{Unit: u}, S: st, V: st.Center, OK: true}
			vs = append(vs, fmt.Sprintf("%s: %s [%s]", u, f.Cell(), f.Spread()))
		}
		fmt.Fprintf(b, "| %s | %s |\n", escape(k.Name), strings.Join(vs, "; "))
	}
	b.WriteString("\n</details>\n")
}

// groupKeys orders benchmarks for the appendix: the quiet passes, then the
// loaded ones, each package's benchmarks together, packages and benchmarks
// in the order they first appeared.
func groupKeys(keys []key) []key {
	var pkgs []string
	for _, k := range keys {
		if !slices.Contains(pkgs, k.Pkg) {
			pkgs = append(pkgs, k.Pkg)
		}
	}
	var out []key
	for _, load := range []string{"", busyLoad} {
		for _, p := range pkgs {
			for _, k := range keys {
				if k.Pkg == p && k.Load == load {
					out = append(out, k)
				}
			}
		}
	}
	for _, k := range keys { // any other load, last
		if k.Load != "" && k.Load != busyLoad {
			out = append(out, k)
		}
	}
	return out
}
