package main

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// confidence is the level of every confidence interval the report prints.
const confidence = 0.95

// A Stat summarizes one figure's samples: the median and its confidence
// interval (benchmath's distribution-free one, as benchstat prints it), and
// the spread of the runs (the smallest and the largest).
type Stat struct {
	Center, Lo, Hi float64 // median and its 95% confidence interval
	Min, Max       float64 // the fastest and the slowest run, in the unit's own order
	N              int     // samples
	NoCI           string  // why the interval is unbounded ("need >= 6 samples ..."), or ""
}

// summarize computes a Stat; vs is not modified. It needs at least one
// value.
func summarize(vs []float64) Stat {
	s := slices.Clone(vs)
	sum := benchmath.AssumeNothing.Summary(benchmath.NewSample(s, &benchmath.DefaultThresholds), confidence)
	st := Stat{Center: sum.Center, Lo: sum.Lo, Hi: sum.Hi, Min: s[0], Max: s[len(s)-1], N: len(s)}
	for _, w := range sum.Warnings {
		st.NoCI = w.Error()
	}
	return st
}

// bounded says whether the confidence interval is finite.
func (s Stat) bounded() bool {
	return s.NoCI == "" && !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0)
}

// CIPct is the interval's half-width as benchstat prints it: the larger
// distance of a bound from the median, in percent ("±3%"); "±∞" without
// enough samples.
func (s Stat) CIPct() string {
	if !s.bounded() {
		return "±∞"
	}
	return "±" + benchmath.Summary{Center: s.Center, Lo: s.Lo, Hi: s.Hi}.PctRangeString()
}

// SpreadRatio is the slowest run against the fastest, as a factor >= 1
// (1.5 means the runs lay within 1.5× of each other); 0 when a bound is
// not positive.
func (s Stat) SpreadRatio() float64 {
	if s.Min <= 0 || s.Max <= 0 {
		return 0
	}
	return s.Max / s.Min
}

// A RatioStat is how many times faster forkless is than a rival: the ratio
// of the two medians, and the range it may span given both confidence
// intervals (the worst and the best pairing of their bounds).
type RatioStat struct {
	Center, Lo, Hi float64
	Bounded        bool // both intervals were finite
}

// ratioOf compares two Stats in their units (see Speedup); false when they
// cannot be compared.
func ratioOf(f Stat, fu string, r Stat, ru string) (RatioStat, bool) {
	c, ok := Speedup(f.Center, fu, r.Center, ru)
	if !ok {
		return RatioStat{}, false
	}
	rs := RatioStat{Center: c, Lo: c, Hi: c, Bounded: f.bounded() && r.bounded()}
	if !rs.Bounded {
		return rs, true
	}
	for _, fv := range []float64{f.Lo, f.Hi} {
		for _, rv := range []float64{r.Lo, r.Hi} {
			if x, ok := Speedup(fv, fu, rv, ru); ok {
				rs.Lo, rs.Hi = math.Min(rs.Lo, x), math.Max(rs.Hi, x)
			}
		}
	}
	return rs, true
}

// String prints "43×" or, with a finite interval, "43× (38–49×)".
func (r RatioStat) String() string {
	if !r.Bounded || r.Lo == r.Hi {
		return formatRatio(r.Center)
	}
	return fmt.Sprintf("%s (%s–%s)", formatRatio(r.Center), trimRatio(r.Lo), formatRatio(r.Hi))
}

// trimRatio is formatRatio without the × sign, for the low end of a range.
func trimRatio(x float64) string {
	s := formatRatio(x)
	return s[:len(s)-len("×")]
}
