package main

import "fmt"

// This file is the one place that says what the report shows: which
// packages run, which benchmark is each row's forkless figure, and which
// benchmarks are its rivals. Every name is a benchmark that exists in a
// package of the library (go test -bench runs it the same way); a name
// that does not exist yet shows up in the report as "not measured", with
// the reason, never as a figure.

// A Package is a package directory whose benchmarks the suite runs.
type Package struct {
	Dir       string // relative to the repository root: "ring"
	Bench     string // the -bench pattern; "." when empty
	Benchtime string // -benchtime; the command's -benchtime flag when empty
}

// packages run in this order, one go test at a time.
var packages = []Package{
	{Dir: "shm"},
	{Dir: "spawn"},
	{Dir: "sync"},
	{Dir: "ring"},
	{Dir: "shared"},
	{Dir: "bench"},
}

// A Measure is one figure: the median of one benchmark in one unit.
type Measure struct {
	Label string // who: "forkless Queue", "os.Pipe"
	Pkg   string // package directory
	Bench string // benchmark name without "Benchmark" and "-GOMAXPROCS"
	Unit  string // as the benchmark prints it: "ns/op", "msgs/s", "p99-ns"
}

func (m Measure) key() key { return key{m.Pkg, m.Bench} }

// A Workload is one row of the report: the forkless figure and its rivals.
type Workload struct {
	ID       string // stable name, used by the fragments' templates
	Section  string // the Section it belongs to
	What     string // what the row measures
	Forkless Measure
	Rivals   []Measure
	Headline string // a rival's Label: the row is a headline, against that rival
	Target   string // the target, if it set one
}

// A Section is a part of the report, with the hand-written prose of the
// package's engineers in Fragment (a file under docs/bench/).
type Section struct {
	ID, Title string
	Fragment  string
}

var sections = []Section{
	{"messaging", "Messaging between processes: queues, pipes and rings", "ring.md"},
	{"sync", "Locks and events between processes", "sync.md"},
	{"spawn", "Starting processes", "spawn.md"},
	{"pool", "Pool: mapping work over processes", "pool.md"},
	{"shared", "Shared dict and list", "shared.md"},
	{"shm", "Shared memory: regions, Value and Array", "shm.md"},
}

// Rivals measured in ./bench, the same for every message size.
func pipeRival(size string, pairs int) Measure {
	return Measure{"os.Pipe", "bench", fmt.Sprintf("Stream/impl=pipe/size=%s/pairs=%d", size, pairs), "msgs/s"}
}

func unixRival(size string, pairs int) Measure {
	return Measure{"Unix socket", "bench", fmt.Sprintf("Stream/impl=unix/size=%s/pairs=%d", size, pairs), "msgs/s"}
}

func chanRival(size string, pairs int) Measure {
	return Measure{"Go channel", "bench", fmt.Sprintf("Stream/impl=chan/size=%s/pairs=%d", size, pairs), "msgs/s"}
}

func pyQueueRival(size string, pairs int) Measure {
	return Measure{"Python Queue", "bench", fmt.Sprintf("PythonStream/impl=mp-queue/size=%s/pairs=%d", size, pairs), "msgs/s"}
}

// messageSizes are the sizes of the one-way workloads, as the benchmarks
// name them, with their byte counts for the throughput chart.
var messageSizes = []struct {
	Name  string
	Bytes float64
}{{"8B", 8}, {"64B", 64}, {"4KiB", 4096}, {"1MiB", 1 << 20}}

// queueBench names the forkless Queue benchmark of one message size.
func queueBench(size string, pairs int) string {
	return fmt.Sprintf("Queue/impl=forkless/size=%s/pairs=%d", size, pairs)
}

func streamRows() []Workload {
	var ws []Workload
	for _, pairs := range []int{1, 2} {
		for _, s := range messageSizes {
			w := Workload{
				ID:       fmt.Sprintf("stream/%s/%dp%dc", s.Name, pairs, pairs),
				Section:  "messaging",
				What:     fmt.Sprintf("Queue, %s messages, %dP%dC", s.Name, pairs, pairs),
				Forkless: Measure{"forkless Queue", "ring", queueBench(s.Name, pairs), "msgs/s"},
				Rivals: []Measure{
					pyQueueRival(s.Name, pairs),
					pipeRival(s.Name, pairs),
					unixRival(s.Name, pairs),
					chanRival(s.Name, pairs),
				},
			}
			if s.Name == "64B" {
				w.Headline = "Python Queue"
				w.Target = "≥ 50× Python's Queue"
			}
			ws = append(ws, w)
		}
	}
	return ws
}

// workloads is the report's table, in the order of the sections.
var workloads = append(streamRows(), []Workload{
	{
		ID: "slots/spsc", Section: "messaging", What: "SPSC[uint64] ring, one item at a time",
		Forkless: Measure{"forkless SPSC", "ring", "SlotsThroughput/impl=spsc/batch=1", "items/s"},
		Rivals:   []Measure{{"Go channel", "ring", "SlotsThroughput/impl=chan/batch=1", "items/s"}},
		Target:   "ahead of the channel",
	},
	{
		ID: "slots/spsc-batch", Section: "messaging", What: "SPSC[uint64] ring, batches of 256",
		Forkless: Measure{"forkless SPSC", "ring", "SlotsThroughput/impl=spsc/batch=256", "items/s"},
		Rivals:   []Measure{{"Go channel", "ring", "SlotsThroughput/impl=chan/batch=1", "items/s"}},
		Headline: "Go channel",
		Target:   "≥ 100M items/s",
	},
	{
		ID: "pingpong/p50", Section: "messaging", What: "Pipe ping-pong round trip, 64 B, p50",
		Forkless: Measure{"forkless Pipe", "ring", "PipePingPong/impl=forkless", "p50-ns"},
		Rivals: []Measure{
			{"Python Pipe", "ring", "PipePingPong/impl=python", "p50-ns"},
			{"os.Pipe", "bench", "PingPong/impl=pipe", "p50-ns"},
			{"Unix socket", "bench", "PingPong/impl=unix", "p50-ns"},
			{"Go channel", "bench", "PingPong/impl=chan", "p50-ns"},
		},
		Headline: "os.Pipe",
		Target:   "≥ 5× os.Pipe",
	},
}...)

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
		mk("forkless Queue", func(s string) Measure { return Measure{"forkless Queue", "ring", queueBench(s, 1), ""} }),
		mk("Go channel (in-process)", func(s string) Measure { return chanRival(s, 1) }),
		mk("os.Pipe", func(s string) Measure { return pipeRival(s, 1) }),
		mk("Unix socket", func(s string) Measure { return unixRival(s, 1) }),
		mk("Python Queue", func(s string) Measure { return pyQueueRival(s, 1) }),
	}
}

// latencyBars are the groups of the latency chart: a round trip's p50, p99
// and p999 (a benchmark that reports no p999 draws two bars).
var latencyBars = []LatencyGroup{
	{"forkless Pipe", "ring", "PipePingPong/impl=forkless", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"forkless Event", "sync", "EventPingPong/impl=forkless", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"os.Pipe", "bench", "PingPong/impl=pipe", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"Unix socket", "bench", "PingPong/impl=unix", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
	{"Go channel", "bench", "PingPong/impl=chan", [3]string{"p50-ns", "p99-ns", "p999-ns"}},
}
