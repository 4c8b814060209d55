package main

import (
	"fmt"
	"math"
	"strings"
)

// higherIsBetter says whether a unit is a rate (msgs/s, MB/s, items/s):
// everything else the suite reports is a time (ns/op, ns/msg, p99-ns).
func higherIsBetter(unit string) bool { return strings.HasSuffix(unit, "/s") || unit == "speedup" }

// isTime says whether a unit is a time in nanoseconds.
func isTime(unit string) bool { return strings.Contains(unit, "ns") }

// perOp turns a figure into nanoseconds per operation, so a rate and a time
// can be compared: a rate r of ops/s is 1e9/r ns per op. (A speedup is
// compared only with a speedup, and inverting both keeps their ratio.)
func perOp(v float64, unit string) float64 {
	if higherIsBetter(unit) {
		return 1e9 / v
	}
	return v
}

// Speedup is how many times better the forkless figure f is than the
// rival's r: above 1 forkless is faster, below 1 slower. Rates are
// compared as rates, times as times; a rate against a time is compared as
// time per operation. The second result is false when the figures cannot
// be compared (a zero or negative value, or units of different kinds that
// are not a rate and a time).
func Speedup(f float64, fu string, r float64, ru string) (float64, bool) {
	if f <= 0 || r <= 0 {
		return 0, false
	}
	known := func(u string) bool { return higherIsBetter(u) || isTime(u) }
	if !known(fu) || !known(ru) || (fu == "speedup") != (ru == "speedup") {
		return 0, false
	}
	return perOp(r, ru) / perOp(f, fu), true
}

// formatRatio prints a speedup: "120×", "12×", "3.4×", "0.62×".
func formatRatio(x float64) string {
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	case x >= 1:
		return fmt.Sprintf("%.1f×", x)
	}
	if x >= 0.01 {
		return fmt.Sprintf("%.2f×", x)
	}
	return fmt.Sprintf("1/%.0f×", 1/x)
}

// formatValue prints a figure in its unit, scaled for reading: times as
// ns/µs/ms/s, rates with k/M/G, bytes/s as MB/s or GB/s.
func formatValue(v float64, unit string) string {
	switch {
	case isTime(unit):
		s := formatDuration(v)
		if suffix, ok := strings.CutPrefix(unit, "ns/"); ok && suffix != "op" {
			s += "/" + suffix
		}
		return s
	case unit == "speedup":
		return trim(v) + "×"
	case unit == "MB/s":
		if v >= 1000 {
			return trim(v/1000) + " GB/s"
		}
		return trim(v) + " MB/s"
	case higherIsBetter(unit):
		return si(v) + " " + unit
	}
	return trim(v) + " " + unit
}

func formatDuration(ns float64) string {
	switch {
	case ns >= 1e9:
		return trim(ns/1e9) + " s"
	case ns >= 1e6:
		return trim(ns/1e6) + " ms"
	case ns >= 1e3:
		return trim(ns/1e3) + " µs"
	}
	return trim(ns) + " ns"
}

func si(v float64) string {
	switch {
	case v >= 1e9:
		return trim(v/1e9) + "G"
	case v >= 1e6:
		return trim(v/1e6) + "M"
	case v >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

// trim prints 3 significant digits.
func trim(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// formatRange prints two figures of one unit as a range, the unit once when
// both print it alike: "5.90M – 6.40M msgs/s", "980 ns – 1.20 µs".
func formatRange(lo, hi float64, unit string) string {
	a, b := formatValue(lo, unit), formatValue(hi, unit)
	ai, bi := strings.LastIndexByte(a, ' '), strings.LastIndexByte(b, ' ')
	if ai > 0 && bi > 0 && a[ai:] == b[bi:] {
		a = a[:ai]
	}
	return a + " – " + b
}
