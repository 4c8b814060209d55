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
	p.Y.Label.Text = "MB/s (log scale)"
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
		for _, pt := range s.Points {
			if v, _, ok := res.Median(pt.M.key(), pt.M.Unit); ok && v > 0 {
				xys = append(xys, plotter.XY{X: pt.X, Y: v})
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

func latencyChart(res *Results) (*plot.Plot, bool) {
	p := plot.New()
	p.Title.Text = "Round trip between two processes (Go channel: two goroutines)"
	p.Y.Label.Text = "round-trip time (log scale)"
	p.Y.Tick.Marker = logNS{}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	var groups []LatencyGroup
	for _, g := range latencyBars {
		if _, _, ok := res.Median(key{g.Pkg, g.Bench}, g.Units[0]); ok {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return p, false
	}
	names := []string{"p50", "p99", "p99.9"}
	w := vg.Points(float64(min(60, 360/len(groups)/3)))
	var bars []*plotter.BarChart
	for j := range 3 {
		vals := make(plotter.Values, len(groups))
		any := false
		for i, g := range groups {
			if v, _, ok := res.Median(key{g.Pkg, g.Bench}, g.Units[j]); ok && v > 1 {
				vals[i] = math.Log10(v)
				any = true
			}
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
		bars = append(bars, b)
		p.Legend.Add(names[j], b)
	}
	for j, b := range bars {
		b.Offset = w * vg.Length(float64(j)-float64(len(bars)-1)/2)
		p.Add(b)
	}
	labels := make([]string, len(groups))
	for i, g := range groups {
		labels[i] = g.Label
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.7, float64(len(groups))-0.3 // whole groups in view
	p.Y.Min = 1                                       // 10 ns
	p.Y.Max = math.Ceil(p.Y.Max) + 1                  // room for the legend above the bars
	return p, true
}

// A headline is one bar of the headline chart.
type headline struct {
	Label string // "Queue 64 B 1P1C vs Python Queue"
	Ratio float64
}

func headlineChart(hs []headline) (*plot.Plot, bool) {
	p := plot.New()
	if len(hs) == 0 {
		return p, false
	}
	p.Title.Text = "forkless against its rivals (times faster, log scale)"
	vals := make(plotter.Values, len(hs))
	labels := make([]string, len(hs))
	var lxys plotter.XYs
	var ltext []string
	for i, h := range hs {
		// Bars run bottom to top; list the first headline on top.
		j := len(hs) - 1 - i
		vals[j] = math.Log10(h.Ratio)
		labels[j] = h.Label
		lxys = append(lxys, plotter.XY{X: math.Max(vals[j], 0), Y: float64(j)})
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
