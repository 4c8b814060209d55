package main

func concat(parts ...[]Workload) []Workload {
	var all []Workload
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// throughputSeries are the lines of the throughput chart: MB/s against
// message size, 1P1C.
func throughputSeries() []Series {
	mk := func(label string, f func(size string) Measure) Series {
		s := Series{Label: label}
		for _, sz := range messageSizes {
			m := f(sz.Name)
			m.Unit = "MB/s"
			s.Points = append(s.Points, Point{X: sz.Bytes, M: m})
		}
		return s
	}
	return []Series{
		mk("forkless Queue", func(s string) Measure { return stream("", "forkless", s, 1) }),
		mk("Go channel (in one process)", func(s string) Measure { return stream("", "chan", s, 1) }),
		mk("os.Pipe", func(s string) Measure { return stream("", "pipe", s, 1) }),
		mk("Unix socket", func(s string) Measure { return stream("", "unix", s, 1) }),
		mk("Python Queue", func(s string) Measure { return pyStream(s, 1) }),
	}
}

// loadBars are the groups of the quiet-against-loaded chart: the p50 of
// each round trip that also runs in a loaded pass.
var loadBars = []LatencyGroup{
	{"forkless Pipe", "bench", "PingPong/impl=forkless", [3]string{"p50-ns"}},
	{"forkless Event", "bench", "PingPong/impl=event", [3]string{"p50-ns"}},
	{"forkless Event (sync)", "sync", "EventPingPong/impl=forkless", [3]string{"p50-ns"}},
	{"os.Pipe", "bench", "PingPong/impl=pipe", [3]string{"p50-ns"}},
	{"futex, no spin", "bench", "PingPong/impl=futex", [3]string{"p50-ns"}},
	{"shmipc-go", shmipcPkg, "ShmipcRoundTrip/impl=shmipc", [3]string{"p50-ns"}},
}

// latencyBars are the groups of the latency chart: a round trip's p50, p99
// and p999 (a benchmark that reports no p999 draws two bars).
var latencyBars = []LatencyGroup{
	{"forkless SPSC", "ring", "SlotsLatency/impl=spsc", [3]string{"p50-rtt-ns", "p99-rtt-ns", "p999-rtt-ns"}},
	{"forkless Pipe", "bench", "PingPong/impl=forkless", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"forkless Event", "sync", "EventPingPong/impl=forkless", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"os.Pipe (1 byte)", "sync", "EventPingPong/impl=os.Pipe", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"os.Pipe", "bench", "PingPong/impl=pipe", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"Unix socket", "bench", "PingPong/impl=unix", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"Go channel", "bench", "PingPong/impl=chan", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
}
