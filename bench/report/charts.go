package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A Series is one line of the throughput chart.
type Series struct {
	Label  string
	Points []Point
}

// A Point is a figure at X (a message size in bytes).
type Point struct {
	X float64
	M Measure
}

// A LatencyGroup is one group of bars of the latency chart: the
// percentiles of one benchmark's round trip, in the units it reports them.
type LatencyGroup struct {
	Label string
	Pkg   string
	Bench string
	Units [3]string // p50, p99, p999
}

// A Chart is an image the report links.
type Chart struct {
	File, Alt string
}

// drawCharts draws every chart into dir and returns the ones it drew (a
// chart with no data at all is left out).
func drawCharts(res *Results, dir string, headlines []headline) ([]Chart, error) {
	var out []Chart
	if p, ok := throughputChart(res); ok {
		if err := p.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, "throughput.png")); err != nil {
			return nil, err
		}
		out = append(out, Chart{"throughput.png", "Throughput against message size, one producer and one consumer"})
	}
	if p, ok := latencyChart(res); ok {
		if err := p.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, "latency.png")); err != nil {
			return nil, err
		}
		out = append(out, Chart{"latency.png", "Round-trip latency percentiles between two processes"})
	}
	if p, ok := loadChart(res); ok {
		if err := p.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, "load.png")); err != nil {
			return nil, err
		}
		out = append(out, Chart{"load.png", "Round-trip p50 on a quiet machine and with busy loops on every core"})
	}
	if p, ok := headlineChart(headlines); ok {
		h := vg.Length(1.2+0.45*float64(len(headlines))) * vg.Inch
		if err := p.Save(8*vg.Inch, h, filepath.Join(dir, "headline.png")); err != nil {
			return nil, err
		}
		out = append(out, Chart{"headline.png", "How many times faster forkless is than each rival"})
	}
	return out, nil
}

func throughputChart(res *Results) (*plot.Plot, bool) {
	p := plot.New()
	p.Title.Text = "One-way throughput, 1 producer → 1 consumer"
	p.X.Label.Text = "message size"
	p.Y.Label.Text = "MB/s (log scale; whiskers: slowest to fastest run)"
	p.X.Scale = plot.LogScale{}
	p.Y.Scale = plot.LogScale{}
	p.X.Tick.Marker = sizeTicks{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, s := range throughputSeries() {
		var xys plotter.XYs
		var errs errPoints
		for _, pt := range s.Points {
			if st, ok := res.Stat(pt.M.key(), pt.M.Unit); ok && st.Center > 0 {
				xys = append(xys, plotter.XY{X: pt.X, Y: st.Center})
				lo, hi := math.Min(st.Min, st.Max), math.Max(st.Min, st.Max)
				errs.XYs = append(errs.XYs, plotter.XY{X: pt.X, Y: st.Center})
				errs.YErrors = append(errs.YErrors, struct{ Low, High float64 }{math.Max(st.Center-lo, 0), math.Max(hi-st.Center, 0)})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			continue
		}
		c := plotutil.Color(i)
		l.Color, pts.Color = c, c
		l.Width = vg.Points(2)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		if eb, err := plotter.NewYErrorBars(errs); err == nil {
			eb.Color = c
			p.Add(eb)
		}
		p.Legend.Add(s.Label, l, pts)
		drawn++
	}
	return p, drawn > 0
}

// sizeTicks labels the measured message sizes, with minor ticks at the
// powers of 8 between them.
type sizeTicks struct{}

func (sizeTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, s := range messageSizes {
		if s.Bytes >= min/1.001 && s.Bytes <= max*1.001 {
			ts = append(ts, plot.Tick{Value: s.Bytes, Label: bytesLabel(s.Bytes)})
		}
	}
	for v := 8.0; v <= max*1.001; v *= 8 {
		if v >= min/1.001 && !slices.ContainsFunc(messageSizes, func(s struct {
			Name  string
			Bytes float64
		}) bool {
			return s.Bytes == v
		}) {
			ts = append(ts, plot.Tick{Value: v})
		}
	}
	return ts
}

func bytesLabel(v float64) string {
	switch {
	case v >= 1<<20:
		return fmt.Sprintf("%g MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%g KiB", v/(1<<10))
	}
	return fmt.Sprintf("%g B", v)
}

// logNS draws times on a log scale as bars: a bar's height is log10 of
// the time in ns, and the ticks are labelled as times.
type logNS struct{}

func (logNS) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(min); e <= math.Ceil(max); e++ {
		ts = append(ts, plot.Tick{Value: e, Label: formatDuration(math.Pow(10, e))})
	}
	return ts
}

// A barSeries is one colour of a grouped bar chart: a Stat per group, or
// none (ok false) where the run has no figure.
type barSeries struct {
	Name  string
	Stats []Stat
	OK    []bool
}

// groupedLogBars draws times as bars on a log scale (a bar's height is
// log10 of its median in ns), with whiskers from the fastest to the slowest
// run, groups along X.
func groupedLogBars(title string, groups []string, series []barSeries) (*plot.Plot, bool) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "round-trip time (log scale; whiskers: fastest to slowest run)"
	p.Y.Tick.Marker = logNS{}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	if len(groups) == 0 {
		return p, false
	}
	w := vg.Points(float64(min(60, 360/len(groups)/max(len(series), 1))))
	type drawn struct {
		b    *plotter.BarChart
		errs *plotter.YErrorBars
	}
	var ds []drawn
	for j, s := range series {
		vals := make(plotter.Values, len(groups))
		var pts errPoints
		any := false
		for i := range groups {
			st := s.Stats[i]
			if !s.OK[i] || st.Center <= 1 {
				continue
			}
			c := math.Log10(st.Center)
			vals[i] = c
			lo, hi := math.Log10(math.Max(st.Min, 1)), math.Log10(math.Max(st.Max, 1))
			pts.XYs = append(pts.XYs, plotter.XY{X: float64(i), Y: c})
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{math.Max(c-lo, 0), math.Max(hi-c, 0)})
			any = true
		}
		if !any {
			continue
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			continue
		}
		b.Color = plotutil.Color(j)
		b.LineStyle.Width = 0
		p.Legend.Add(s.Name, b)
		var eb *plotter.YErrorBars
		if len(pts.XYs) > 0 {
			eb, _ = plotter.NewYErrorBars(pts)
		}
		ds = append(ds, drawn{b, eb})
	}
	if len(ds) == 0 {
		return p, false
	}
	for k, d := range ds {
		off := w * vg.Length(float64(k)-float64(len(ds)-1)/2)
		d.b.Offset = off
		p.Add(d.b)
		if d.errs != nil {
			p.Add(&offsetErrors{YErrorBars: *d.errs, off: off}) // the whiskers sit on the bar
		}
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.7, float64(len(groups))-0.3 // whole groups in view
	p.Y.Min = 1                                       // 10 ns
	p.Y.Max = math.Ceil(p.Y.Max) + 1                  // room for the legend above the bars
	return p, true
}

// errPoints are points with vertical error distances, for YErrorBars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// offsetErrors draws error bars shifted sideways by off, to sit on a bar
// that its BarChart drew with the same Offset.
type offsetErrors struct {
	plotter.YErrorBars
	off vg.Length
}

func (e *offsetErrors) Plot(c draw.Canvas, p *plot.Plot) {
	c.Rectangle.Min.X += e.off
	c.Rectangle.Max.X += e.off
	e.YErrorBars.Plot(c, p)
}

func latencyChart(res *Results) (*plot.Plot, bool) {
	var groups []LatencyGroup
	for _, g := range latencyBars {
		if _, ok := res.Stat(key{g.Pkg, g.Bench, ""}, g.Units[0]); ok {
			groups = append(groups, g)
		}
	}
	names := []string{"p50", "p99", "p99.9"}
	series := make([]barSeries, 3)
	labels := make([]string, len(groups))
	for j := range series {
		series[j].Name = names[j]
		for i, g := range groups {
			st, ok := res.Stat(key{g.Pkg, g.Bench, ""}, g.Units[j])
			series[j].Stats = append(series[j].Stats, st)
			series[j].OK = append(series[j].OK, ok)
			labels[i] = g.Label
		}
	}
	return groupedLogBars("Round trip between two processes, quiet machine (Go channel: two goroutines)", labels, series)
}

// loadChart draws each round trip's p50 on the quiet machine and with busy
// loops on every core, side by side.
func loadChart(res *Results) (*plot.Plot, bool) {
	var labels []string
	series := []barSeries{{Name: "p50, quiet"}, {Name: "p50, loaded (busy loops on every core)"}}
	for _, g := range loadBars {
		q, qok := res.Stat(key{g.Pkg, g.Bench, ""}, g.Units[0])
		l, lok := res.Stat(key{g.Pkg, g.Bench, busyLoad}, g.Units[0])
		if !qok && !lok {
			continue
		}
		labels = append(labels, g.Label)
		series[0].Stats, series[0].OK = append(series[0].Stats, q), append(series[0].OK, qok)
		series[1].Stats, series[1].OK = append(series[1].Stats, l), append(series[1].OK, lok)
	}
	return groupedLogBars("Round trip p50 between two processes, quiet and loaded", labels, series)
}

// A headline is one bar of the headline chart.
type headline struct {
	Label string // "Queue 64 B 1P1C vs Python Queue"
	Ratio float64
	R     RatioStat // the ratio with its range
}

func headlineChart(hs []headline) (*plot.Plot, bool) {
	p := plot.New()
	if len(hs) == 0 {
		return p, false
	}
	p.Title.Text = "forkless against its rivals (times faster, log scale; whiskers: 95% range)"
	vals := make(plotter.Values, len(hs))
	labels := make([]string, len(hs))
	var lxys plotter.XYs
	var ltext []string
	var errs xErrPoints
	for i, h := range hs {
		// Bars run bottom to top; list the first headline on top.
		j := len(hs) - 1 - i
		vals[j] = math.Log10(h.Ratio)
		labels[j] = h.Label
		top := vals[j]
		if h.R.Bounded {
			lo, hi := math.Log10(h.R.Lo), math.Log10(h.R.Hi)
			errs.XYs = append(errs.XYs, plotter.XY{X: vals[j], Y: float64(j)})
			errs.XErrors = append(errs.XErrors, struct{ Low, High float64 }{math.Max(vals[j]-lo, 0), math.Max(hi-vals[j], 0)})
			top = math.Max(top, hi)
		}
		lxys = append(lxys, plotter.XY{X: math.Max(top, 0), Y: float64(j)})
		ltext = append(ltext, " "+formatRatio(h.Ratio))
	}
	b, err := plotter.NewBarChart(vals, vg.Points(16))
	if err != nil {
		return p, false
	}
	b.Horizontal = true
	b.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	b.LineStyle.Width = 0
	p.Add(b)
	if len(errs.XYs) > 0 {
		if eb, err := plotter.NewXErrorBars(errs); err == nil {
			p.Add(eb)
		}
	}
	if l, err := plotter.NewLabels(plotter.XYLabels{XYs: lxys, Labels: ltext}); err == nil {
		for i := range l.TextStyle {
			l.TextStyle[i].YAlign = -0.5
		}
		p.Add(l)
	}
	p.NominalY(labels...)
	p.X.Tick.Marker = ratioTicks{}
	// Whole decades, 1× always in view, and room for the labels.
	p.X.Min = math.Floor(math.Min(0, p.X.Min))
	p.X.Max = math.Ceil(math.Max(0, p.X.Max)) + 0.6
	p.Add(plotter.NewGrid())
	return p, true
}

// xErrPoints are points with horizontal error distances, for XErrorBars.
type xErrPoints struct {
	plotter.XYs
	plotter.XErrors
}

// ratioTicks labels log10 of a ratio as the ratio.
type ratioTicks struct{}

func (ratioTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(min); e <= max; e++ {
		ts = append(ts, plot.Tick{Value: e, Label: fmt.Sprintf("%g×", math.Pow(10, e))})
		for _, m := range []float64{2, 5} {
			if v := e + math.Log10(m); v <= max {
				ts = append(ts, plot.Tick{Value: v}) // a minor tick
			}
		}
	}
	return ts
}
