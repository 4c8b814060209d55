package main

import (
	"fmt"
	"strings"
	"time"
)

// This file is the one place that says what the report shows: which
// packages run, which benchmark is each row's forkless figure, and which
// benchmarks are its rivals. Every name is a benchmark that exists in a
// package of the library (go test -bench runs it the same way); a name
// that does not exist yet shows up in the report as "not measured", with
// the reason, never as a figure.

// A Package is a package directory whose benchmarks the suite runs.
type Package struct {
	Dir       string        // relative to the repository root: "ring"
	Bench     string        // the -bench pattern; "." when empty
	Benchtime string        // -benchtime; the command's -benchtime flag when empty
	Load      string        // "" (quiet) or busyLoad: run with busy loops on every core
	PerRun    time.Duration // how long one -count takes on the 2-core machine (for the estimate)
}

// packages run in this order, one go test at a time, each with the
// benchmarks the table quotes (plus their siblings in the same function).
// Round-trip
// benchmarks run a fixed number of round trips: on a loaded machine their
// time per iteration swings by orders of magnitude between Go's
// calibration runs and the final one, and a time-based -benchtime can then
// run for minutes. (Benchmarks that run a Python script once per iteration
// must not get an "Nx" benchtime: that would run the script N times.)
var packages = []Package{
	{Dir: "shm", Bench: "^BenchmarkArray$", PerRun: 1500 * time.Millisecond},
	{Dir: "spawn", Bench: "^Benchmark(StartExit|Start16)$", PerRun: 7 * time.Second},
	{Dir: "pool", Bench: "^Benchmark(PoolMap|PoolSubmit|PoolLatency|PoolCPU|Map)$", PerRun: 11 * time.Second},
	{Dir: "bench", Bench: "^BenchmarkPoolMapValues$", PerRun: 8 * time.Second},
	{Dir: "sync", Bench: "^Benchmark(LockUnlock|Counter2Procs)$", PerRun: 4 * time.Second},
	{Dir: "sync", Bench: "^BenchmarkEventPingPong$", Benchtime: "20000x", PerRun: 2500 * time.Millisecond},
	{Dir: "sync", Bench: "^BenchmarkSemaphorePingPong$", Benchtime: "20000x", PerRun: time.Second},
	{Dir: "sync", Bench: "^BenchmarkBarrier2Procs$", Benchtime: "20000x", PerRun: 1600 * time.Millisecond},
	{Dir: "ring", Bench: "^Benchmark(SlotsThroughput|SlotsMPMC2P2C)$", PerRun: 6 * time.Second},
	{Dir: "queue", Bench: "^BenchmarkQueueBandwidth$", PerRun: 5500 * time.Millisecond},
	{Dir: "queue", Bench: "^BenchmarkQueue$/impl=(forkless|unixsocket|ospipe)", PerRun: 2600 * time.Millisecond},
	// queue's Python Queue baselines move b.N messages (at most 200000) in
	// one script run: a time-based benchtime stops them at one message.
	{Dir: "queue", Bench: "^BenchmarkQueue$/impl=python", Benchtime: "50000x", PerRun: 6200 * time.Millisecond},
	{Dir: "queue", Bench: "^BenchmarkPipePingPong$", Benchtime: "20000x", PerRun: 6 * time.Second},
	{Dir: "ring", Bench: "^BenchmarkSlotsLatency$", Benchtime: "20000x", PerRun: 300 * time.Millisecond},
	{Dir: "shared", PerRun: 12300 * time.Millisecond},
	{Dir: "bench", Bench: "^Benchmark(Stream|PythonStream)$", PerRun: 25 * time.Second},
	{Dir: "bench", Bench: "^BenchmarkStreamFanIn$", PerRun: 3 * time.Second},
	{Dir: shmipcPkg, Bench: "^BenchmarkShmipcStream$", PerRun: 10 * time.Second},
	{Dir: "cluster", Bench: "^Benchmark(ClusterMap|ClusterRoundTrip)$", Benchtime: "20x", PerRun: 15 * time.Second},
	// Round trips, quiet, then loaded: busy loops on every core for the
	// whole pass (fewer iterations: a loaded round trip is slower).
	{Dir: "bench", Bench: "^BenchmarkPingPong$", Benchtime: "20000x", PerRun: 4 * time.Second},
	{Dir: shmipcPkg, Bench: "^BenchmarkShmipcRoundTrip$", Benchtime: "20000x", PerRun: 1500 * time.Millisecond},
	{Dir: "bench", Bench: "^BenchmarkPingPong$/impl=(forkless|event|pipe|futex|unix)$", Benchtime: "5000x", Load: busyLoad, PerRun: 4 * time.Second},
	{Dir: "sync", Bench: "^BenchmarkEventPingPong$/impl=(forkless|os.Pipe)$", Benchtime: "5000x", Load: busyLoad, PerRun: 2 * time.Second},
	{Dir: shmipcPkg, Bench: "^BenchmarkShmipcRoundTrip$", Benchtime: "5000x", Load: busyLoad, PerRun: 2 * time.Second},
}

// shmipcPkg holds the cloudwego/shmipc-go rival and forkless's side of
// the same harness. It is a package of the report's own module, so that
// the library's go.mod never requires shmipc-go.
const shmipcPkg = "bench/report/shmipcbench"

// A Measure is one figure: the median of one benchmark in one unit.
type Measure struct {
	Label string // who: "forkless Queue", "os.Pipe"
	Pkg   string // package directory
	Bench string // benchmark name without "Benchmark" and "-GOMAXPROCS"
	Unit  string // as the benchmark prints it: "ns/op", "msgs/s", "p99-ns"
}

func (m Measure) key() key { return key{m.Pkg, m.Bench, ""} }

// keyAt names the figure measured under load ("" or busyLoad).
func (m Measure) keyAt(load string) key { return key{m.Pkg, m.Bench, load} }

// A Workload is one row of the report: the forkless figure and its rivals.
type Workload struct {
	ID       string // stable name, used by the fragments' templates
	Section  string // the Section it belongs to
	Group    string // rows of a section with the same Group share a table
	What     string // what the row measures
	Short    string // the row's name in the headlines, when What needs its section to make sense
	Forkless Measure
	Rivals   []Measure
	Headline string // a rival's Label: the row is a headline, against that rival
	Load     string // "" (quiet) or busyLoad: every figure of the row comes from the loaded pass
}

// A Section is a part of the report, with its prose in Fragments (files
// under bench/report/prose/: what each table measures and how, for users;
// Go templates that may quote the run's figures).
type Section struct {
	ID, Title string
	Fragments []string // bench/report/prose files whose prose opens the section
}

var sections = []Section{
	{"messaging", "Messaging between processes: queues, pipes and rings", []string{"messaging.md"}},
	{"sync", "Locks and events between processes", []string{"sync.md"}},
	{"spawn", "Starting processes", []string{"spawn.md"}},
	{"pool", "Pool: mapping work over processes", []string{"pool.md"}},
	{"shared", "Shared dict and list", []string{"shared.md"}},
	{"shm", "Shared memory: regions, Value and Array", []string{"shm.md"}},
	{"cluster", "Beyond one machine: the pool's calls on NATS JetStream", []string{"cluster.md"}},
}

// The message-size sweep: BenchmarkStream in ./bench runs forkless's
// queue.Queue and every rival without forkless in one harness (producers
// in child processes, consumers in the parent), and BenchmarkPythonStream
// runs Python's multiprocessing.Queue on the same workload.
func stream(label, impl, size string, pairs int) Measure {
	return Measure{label, "bench", fmt.Sprintf("Stream/impl=%s/size=%s/pairs=%d", impl, size, pairs), "msgs/s"}
}

func pyStream(size string, pairs int) Measure {
	return Measure{"Python Queue", "bench", fmt.Sprintf("PythonStream/impl=mp-queue/size=%s/pairs=%d", size, pairs), "msgs/s"}
}

// messageSizes are the sizes of the one-way workloads, as the benchmarks
// name them, with their byte counts for the throughput chart.
var messageSizes = []struct {
	Name  string
	Bytes float64
}{{"8B", 8}, {"64B", 64}, {"4KiB", 4096}, {"1MiB", 1 << 20}}

func streamRows() []Workload {
	var ws []Workload
	for _, pairs := range []int{1, 2} {
		for _, s := range messageSizes {
			w := Workload{
				ID:       fmt.Sprintf("stream/%s/%dp%dc", s.Name, pairs, pairs),
				Section:  "messaging",
				Group:    "One-way messages of every size (./bench, one harness for all)",
				What:     fmt.Sprintf("%s messages, %dP%dC", s.Name, pairs, pairs),
				Short:    fmt.Sprintf("Queue, %s, %dP%dC", s.Name, pairs, pairs),
				Forkless: stream("forkless Queue", "forkless", s.Name, pairs),
				Rivals: []Measure{
					pyStream(s.Name, pairs),
					stream("os.Pipe", "pipe", s.Name, pairs),
					stream("Unix socket", "unix", s.Name, pairs),
					stream("Go channel", "chan", s.Name, pairs),
				},
			}
			switch {
			case s.Name == "64B":
				w.Headline = "Python Queue"
			case s.Name == "1MiB" && pairs == 1:
				w.Headline = "Unix socket"
			}
			ws = append(ws, w)
		}
	}
	return ws
}

// queue64Rows are the 64-byte queue with 1, 2 and 4 producers against
// Python's Queue doing the same, in ./bench's one harness.
func queue64Rows() []Workload {
	g := "Queue of 64-byte messages: 1, 2 and 4 producers (./bench)"
	return []Workload{{
		ID: "queue64/1p1c", Section: "messaging", Group: g, What: "1 producer → 1 consumer process",
		Forkless: stream("forkless Queue", "forkless", "64B", 1), Rivals: []Measure{pyStream("64B", 1)},
	}, {
		ID: "queue64/2p2c", Section: "messaging", Group: g, What: "2 producers → 2 consumers",
		Forkless: stream("forkless Queue", "forkless", "64B", 2), Rivals: []Measure{pyStream("64B", 2)},
	}, {
		ID: "queue64/4p1c", Section: "messaging", Group: g, What: "4 producers → 1 consumer",
		Short:    "Queue, 64B, 4P1C",
		Forkless: Measure{"forkless Queue", "bench", "StreamFanIn/impl=forkless/size=64B/producers=4", "msgs/s"},
		Rivals:   []Measure{{"Python Queue", "bench", "StreamFanIn/impl=mp-queue/size=64B/producers=4", "msgs/s"}},
		Headline: "Python Queue",
	}}
}

// roundTripRows are the round trips of ./bench's one harness (an echoing
// child process, 64-byte messages where the mechanism carries data), on
// the quiet machine and loaded.
func roundTripRows() []Workload {
	m := func(label, impl string) Measure { return Measure{label, "bench", "PingPong/impl=" + impl, "p50-ns"} }
	var ws []Workload
	for _, load := range []string{"", busyLoad} {
		for _, f := range []struct{ id, label, impl string }{{"pipe", "forkless Pipe", "forkless"}, {"event", "forkless Event", "event"}} {
			w := Workload{
				ID: "rt/" + f.id, Section: "messaging", Group: "Round trips, quiet and loaded (./bench, one harness)",
				What:     f.label + " round trip, p50",
				Short:    f.label + " round trip p50",
				Forkless: m(f.label, f.impl),
				Rivals:   []Measure{m("os.Pipe", "pipe"), m("futex, no spin", "futex"), m("Unix socket", "unix")},
				Load:     load,
			}
			if load != "" {
				w.ID += "/loaded"
				w.Short += ", loaded"
			}
			if load != "" || f.id == "event" { // the quiet Pipe's headline is pipe/p50's
				w.Headline = "os.Pipe"
			}
			ws = append(ws, w)
		}
	}
	return ws
}

// shmipcRows compare forkless with cloudwego/shmipc-go in one harness
// (bench/report/shmipcbench): a round trip to an echoing child, and one-way
// throughput from this process to a consuming child.
func shmipcRows() []Workload {
	g := "cloudwego/shmipc-go, in one harness (bench/report/shmipcbench)"
	rt := func(impl, unit string) Measure {
		label := "shmipc-go"
		if impl == "forkless" {
			label = "forkless Pipe"
		}
		return Measure{label, shmipcPkg, "ShmipcRoundTrip/impl=" + impl, unit}
	}
	ws := []Workload{{
		ID: "shmipc/rt-p50", Section: "messaging", Group: g, What: "Round trip, 64 B, p50",
		Short: "Round trip p50", Forkless: rt("forkless", "p50-ns"), Rivals: []Measure{rt("shmipc", "p50-ns")}, Headline: "shmipc-go",
	}, {
		ID: "shmipc/rt-p99", Section: "messaging", Group: g, What: "Round trip, 64 B, p99",
		Forkless: rt("forkless", "p99-ns"), Rivals: []Measure{rt("shmipc", "p99-ns")},
	}, {
		ID: "shmipc/rt-p50/loaded", Section: "messaging", Group: g, What: "Round trip, 64 B, p50",
		Short: "Round trip p50, loaded", Forkless: rt("forkless", "p50-ns"), Rivals: []Measure{rt("shmipc", "p50-ns")},
		Headline: "shmipc-go", Load: busyLoad,
	}}
	for _, sz := range []string{"64B", "4KiB", "1MiB"} {
		one := func(label, impl string) Measure {
			return Measure{label, shmipcPkg, "ShmipcStream/impl=" + impl + "/size=" + sz, "msgs/s"}
		}
		ws = append(ws, Workload{
			ID: "shmipc/stream/" + sz, Section: "messaging", Group: g, What: "One way, " + sz + " messages, 1P1C",
			Short:    "One way, " + sz,
			Forkless: one("forkless Queue", "forkless"), Rivals: []Measure{one("shmipc-go", "shmipc")},
			Headline: "shmipc-go",
		})
	}
	return ws
}

// ringQueue names queue's own BenchmarkQueue (64-byte messages).
func ringQueue(label, impl, mode string) Measure {
	return Measure{label, "queue", "Queue/impl=" + impl + "/mode=" + mode + "/size=64", "msgs/s"}
}

func ringQueueRow(mode string) Workload {
	w := Workload{
		ID: "ring-queue/" + mode, Section: "messaging", Group: "queue's Queue benchmark (64-byte messages)",
		What:     strings.ToUpper(mode),
		Forkless: ringQueue("forkless Queue", "forkless", mode),
		Rivals: []Measure{
			ringQueue("Python Queue", "pythonQueue", mode),
			ringQueue("Python SimpleQueue", "pythonSimpleQueue", mode),
		},
	}
	if mode == "1p1c" {
		w.Rivals = append(w.Rivals, ringQueue("os.Pipe", "ospipe", mode), ringQueue("Unix socket", "unixsocket", mode))
	}
	return w
}

// startRow compares starting children (ns/op of one round).
func startRow(id, what, bench string) Workload {
	return Workload{
		ID: id, Section: "spawn", What: what,
		Forkless: Measure{"forkless spawn", "spawn", bench + "/impl=spawn", "ns/op"},
		Rivals: []Measure{
			{"exec of the same binary", "spawn", bench + "/impl=exec", "ns/op"},
			{"Python fork", "spawn", bench + "/impl=python-fork", "ns/op"},
			{"Python spawn", "spawn", bench + "/impl=python-spawn", "ns/op"},
		},
	}
}

// dictRow compares one Dict operation from par processes (ns/op of one
// operation, as shared's BenchmarkDict reports it).
func dictRow(op string, par int) Workload {
	name := func(impl string) string { return fmt.Sprintf("Dict/op=%s/impl=%s/par=%d", op, impl, par) }
	w := Workload{
		ID: fmt.Sprintf("dict/%s/%d", op, par), Section: "shared", Group: "Dict[string, int64]",
		What:     fmt.Sprintf("Dict %s, %d process(es)", op, par),
		Forkless: Measure{"forkless Dict", "shared", name("forkless"), "ns/op"},
		Rivals: []Measure{
			{"Python Manager().dict()", "shared", name("python-manager"), "ns/op"},
			{"Go map + sync.Mutex", "shared", name("gomap-mutex"), "ns/op"},
		},
	}
	if par == 2 {
		w.What = fmt.Sprintf("Dict %s, 2 processes at once", op)
		w.Short = fmt.Sprintf("Dict %s, 2 processes", op)
		if op == "set" {
			w.Headline = "Python Manager().dict()"
		}
	}
	return w
}

// pingRow compares a 64-byte round trip to an echoing child process in
// ./bench's one harness: a forkless Pipe, os.Pipe, a Unix socket, and two
// goroutines on channels for scale.
func pingRow(q, id string) Workload {
	unit := q + "-ns"
	m := func(label, impl string) Measure { return Measure{label, "bench", "PingPong/impl=" + impl, unit} }
	w := Workload{
		ID: id, Section: "messaging", Group: "Round trips between two processes",
		What:     "Pipe ping-pong, 64 B, " + q,
		Short:    "Pipe round trip, " + q,
		Forkless: m("forkless Pipe", "forkless"),
		Rivals:   []Measure{m("os.Pipe", "pipe"), m("Unix socket", "unix"), m("Go channel", "chan")},
	}
	if q == "p50" {
		w.Headline = "os.Pipe"
	}
	return w
}

// poolValuesRow compares Pool.Map with automatic chunks over 1M items of
// one kind with Python's Pool.map over the same items (./bench).
func poolValuesRow(values, what string) Workload {
	m := func(label, impl string) Measure {
		return Measure{label, "bench", "PoolMapValues/impl=" + impl + "/values=" + values, "items/s"}
	}
	return Workload{
		ID: "pool/values/" + values, Section: "pool", What: "Pool map, automatic chunks, 1M items: " + what,
		Short:    "Pool map, automatic chunks, " + values + " values",
		Forkless: m("forkless Pool", "forkless"), Rivals: []Measure{m("Python Pool", "python")},
		Headline: "Python Pool",
	}
}

// listRow compares one List operation in one process (ns/op).
func listRow(op string) Workload {
	name := func(impl string) string { return "List/op=" + op + "/impl=" + impl }
	return Workload{
		ID: "list/" + op, Section: "shared", Group: "List[int64]", What: "List " + op + ", 1 process",
		Forkless: Measure{"forkless List", "shared", name("forkless"), "ns/op"},
		Rivals: []Measure{
			{"Python Manager().list()", "shared", name("python-manager"), "ns/op"},
			{"Go slice + sync.Mutex", "shared", name("goslice-mutex"), "ns/op"},
		},
	}
}

// workloads is the report's table, in the order of the sections.
var workloads = concat(
	queue64Rows(),
	streamRows(),
	roundTripRows(),
	shmipcRows(),
	[]Workload{
		ringQueueRow("1p1c"),
		ringQueueRow("2p2c"),
		{
			ID: "slots/spsc", Section: "messaging", Group: "Slot rings of uint64 (ring)", What: "SPSC[uint64] ring, one item at a time",
			Forkless: Measure{"forkless SPSC", "ring", "SlotsThroughput/impl=spsc/batch=1", "items/s"},
			Rivals:   []Measure{{"Go channel", "ring", "SlotsThroughput/impl=chan/batch=1", "items/s"}},
		},
		{
			ID: "slots/spsc-batch", Section: "messaging", Group: "Slot rings of uint64 (ring)", What: "SPSC[uint64] ring, batches of 256",
			Short:    "SPSC ring, batches of 256",
			Forkless: Measure{"forkless SPSC", "ring", "SlotsThroughput/impl=spsc/batch=256", "items/s"},
			Rivals:   []Measure{{"Go channel", "ring", "SlotsThroughput/impl=chan/batch=1", "items/s"}},
			Headline: "Go channel",
		},
		{
			ID: "slots/mpmc-batch", Section: "messaging", Group: "Slot rings of uint64 (ring)", What: "MPMC[uint64] ring, batches of 256, 1P1C",
			Forkless: Measure{"forkless MPMC", "ring", "SlotsThroughput/impl=mpmc/batch=256", "items/s"},
			Rivals:   []Measure{{"Go channel", "ring", "SlotsThroughput/impl=chan/batch=1", "items/s"}},
		},
		{
			ID: "slots/mpmc-2p2c", Section: "messaging", Group: "Slot rings of uint64 (ring)", What: "MPMC[uint64] ring, 2P2C, one item at a time",
			Forkless: Measure{"forkless MPMC", "ring", "SlotsMPMC2P2C/impl=mpmc/batch=1", "items/s"},
			Rivals:   []Measure{{"Go channel", "ring", "SlotsMPMC2P2C/impl=chan/batch=1", "items/s"}},
		},
		{
			ID: "slots/latency", Section: "messaging", Group: "Round trips between two processes", What: "SPSC[uint64] ping-pong round trip, p50",
			Forkless: Measure{"forkless SPSC", "ring", "SlotsLatency/impl=spsc", "p50-rtt-ns"},
			Rivals: []Measure{
				{"os.Pipe", "bench", "PingPong/impl=pipe", "p50-ns"},
				{"Unix socket", "bench", "PingPong/impl=unix", "p50-ns"},
				{"Go channel", "ring", "SlotsLatency/impl=chan", "p50-rtt-ns"},
			},
		},
		{
			ID: "slots/latency-p99", Section: "messaging", Group: "Round trips between two processes", What: "SPSC[uint64] ping-pong round trip, p99",
			Forkless: Measure{"forkless SPSC", "ring", "SlotsLatency/impl=spsc", "p99-rtt-ns"},
			Rivals: []Measure{
				{"os.Pipe", "bench", "PingPong/impl=pipe", "p99-ns"},
				{"Unix socket", "bench", "PingPong/impl=unix", "p99-ns"},
				{"Go channel", "ring", "SlotsLatency/impl=chan", "p99-rtt-ns"},
			},
		},
		pingRow("p50", "pipe/p50"),
		pingRow("p99", "pipe/p99"),
		pingRow("p999", "pipe/p999"),
		{
			ID: "ring-pipe/mean", Section: "messaging", Group: "Round trips between two processes",
			What:     "queue's Pipe benchmark, 64 B, mean round trip",
			Short:    "Pipe round trip (mean)",
			Forkless: Measure{"forkless Pipe", "queue", "PipePingPong/impl=forkless/size=64", "ns/op"},
			Rivals: []Measure{
				{"Python Pipe", "queue", "PipePingPong/impl=pythonPipe/size=64", "ns/roundtrip"},
				{"os.Pipe", "queue", "PipePingPong/impl=ospipe/size=64", "ns/op"},
			},
			Headline: "Python Pipe",
		},
		{
			ID: "ring-pipe/p50", Section: "messaging", Group: "Round trips between two processes",
			What:     "queue's Pipe benchmark, 64 B, p50",
			Forkless: Measure{"forkless Pipe", "queue", "PipePingPong/impl=forkless/size=64", "p50-ns"},
			Rivals: []Measure{
				{"os.Pipe", "queue", "PipePingPong/impl=ospipe/size=64", "p50-ns"},
				{"futex, no spin", "queue", "PipePingPong/impl=futex/size=64", "p50-ns"},
			},
		},
		{
			ID: "ring-pipe/p50-busy", Section: "messaging", Group: "Round trips between two processes",
			What:     "queue's Pipe benchmark, 64 B, p50, with 2 busy loops per core started by the benchmark",
			Forkless: Measure{"forkless Pipe", "queue", "PipePingPong/impl=forkless/size=64/load=busy", "p50-ns"},
			Rivals: []Measure{
				{"os.Pipe", "queue", "PipePingPong/impl=ospipe/size=64/load=busy", "p50-ns"},
				{"futex, no spin", "queue", "PipePingPong/impl=futex/size=64/load=busy", "p50-ns"},
			},
		},
		{
			ID: "ring-bandwidth/4KiB", Section: "messaging", Group: "queue's bandwidth benchmark (8 MiB ring)",
			What:     "4 KiB messages, 1P1C",
			Forkless: Measure{"forkless Queue", "queue", "QueueBandwidth/impl=forkless/size=4096", "msgs/s"},
			Rivals:   []Measure{{"Unix socket", "queue", "QueueBandwidth/impl=unixsocket/size=4096", "msgs/s"}},
		},
		{
			ID: "ring-bandwidth/1MiB", Section: "messaging", Group: "queue's bandwidth benchmark (8 MiB ring)",
			What:     "1 MiB messages, 1P1C",
			Forkless: Measure{"forkless Queue", "queue", "QueueBandwidth/impl=forkless/size=1048576", "msgs/s"},
			Rivals:   []Measure{{"Unix socket", "queue", "QueueBandwidth/impl=unixsocket/size=1048576", "msgs/s"}},
		},

		// sync
		{
			ID: "lock/uncontended", Section: "sync", Group: "Locks", What: "Lock and unlock, nobody waiting",
			Forkless: Measure{"forkless Mutex", "sync", "LockUnlock/impl=forkless.Mutex", "ns/op"},
			Rivals:   []Measure{{"Go sync.Mutex", "sync", "LockUnlock/impl=sync.Mutex", "ns/op"}},
		},
		{
			ID: "rwlock/uncontended", Section: "sync", Group: "Locks", What: "Read lock and unlock, nobody waiting",
			Forkless: Measure{"forkless RWMutex", "sync", "LockUnlock/impl=forkless.RWMutex.RLock", "ns/op"},
			Rivals:   []Measure{{"Go sync.RWMutex", "sync", "LockUnlock/impl=sync.RWMutex.RLock", "ns/op"}},
		},
		{
			ID: "lock/counter", Section: "sync", Group: "Locks", What: "2 processes incrementing a shared counter under the lock",
			Short:    "Counter under a lock, 2 processes",
			Forkless: Measure{"forkless Mutex", "sync", "Counter2Procs/impl=forkless", "ops/s"},
			Rivals: []Measure{
				{"Python Value.get_lock()", "sync", "Counter2Procs/impl=python-Value.get_lock", "ops/s"},
				{"Go sync.Mutex", "sync", "Counter2Procs/impl=sync.Mutex-2goroutines", "ops/s"},
			},
			Headline: "Python Value.get_lock()",
		},
		{
			ID: "event/mean", Section: "sync", Group: "Round trips between two processes", What: "Event ping-pong between 2 processes, mean round trip",
			Short:    "Event round trip",
			Forkless: Measure{"forkless Event", "sync", "EventPingPong/impl=forkless", "ns/op"},
			Rivals: []Measure{
				{"Python Event", "sync", "EventPingPong/impl=python-Event", "ns/op"},
				{"os.Pipe", "sync", "EventPingPong/impl=os.Pipe", "ns/op"},
			},
			Headline: "Python Event",
		},
		{
			ID: "event/p50", Section: "sync", Group: "Round trips between two processes", What: "Event ping-pong, p50",
			Forkless: Measure{"forkless Event", "sync", "EventPingPong/impl=forkless", "p50-ns"},
			Rivals:   []Measure{{"os.Pipe", "sync", "EventPingPong/impl=os.Pipe", "p50-ns"}},
		},
		{
			ID: "event/p50/loaded", Section: "sync", Group: "Round trips between two processes", What: "Event ping-pong, p50",
			Forkless: Measure{"forkless Event", "sync", "EventPingPong/impl=forkless", "p50-ns"},
			Rivals:   []Measure{{"os.Pipe", "sync", "EventPingPong/impl=os.Pipe", "p50-ns"}},
			Load:     busyLoad,
		},
		{
			ID: "event/p99", Section: "sync", Group: "Round trips between two processes", What: "Event ping-pong, p99",
			Forkless: Measure{"forkless Event", "sync", "EventPingPong/impl=forkless", "p99-ns"},
			Rivals:   []Measure{{"os.Pipe", "sync", "EventPingPong/impl=os.Pipe", "p99-ns"}},
		},
		{
			ID: "semaphore", Section: "sync", Group: "Round trips between two processes", What: "Semaphore ping-pong between 2 processes, mean round",
			Forkless: Measure{"forkless Semaphore", "sync", "SemaphorePingPong/impl=forkless", "ns/op"},
			Rivals:   []Measure{{"Python Semaphore", "sync", "SemaphorePingPong/impl=python-Semaphore", "ns/op"}},
		},
		{
			ID: "barrier", Section: "sync", Group: "Round trips between two processes", What: "Barrier of 2 processes, mean round",
			Forkless: Measure{"forkless Barrier", "sync", "Barrier2Procs/impl=forkless", "ns/op"},
			Rivals:   []Measure{{"Python Barrier", "sync", "Barrier2Procs/impl=python-Barrier", "ns/op"}},
		},

		// spawn
		startRow("start/1", "Start one child and wait for its exit", "StartExit"),
		startRow("start/16", "Start 16 children at once, wait for all", "Start16"),

		// pool
		{
			ID: "pool/map-auto", Section: "pool", What: "Pool map over 1M ints, automatic chunks, 2 workers",
			Short:    "Pool map, automatic chunks",
			Forkless: Measure{"forkless Pool", "pool", "PoolMap/impl=forkless/chunk=auto", "items/s"},
			Rivals:   []Measure{{"Python Pool", "pool", "PoolMap/impl=python/chunk=auto", "items/s"}},
			Headline: "Python Pool",
		},
		{
			ID: "pool/map-1", Section: "pool", What: "Pool map, one item per task, 2 workers",
			Short:    "Pool map, one item per task",
			Forkless: Measure{"forkless Pool", "pool", "PoolMap/impl=forkless/chunk=1", "items/s"},
			Rivals:   []Measure{{"Python Pool", "pool", "PoolMap/impl=python/chunk=1", "items/s"}},
			Headline: "Python Pool",
		},
		{
			ID: "pool/submit", Section: "pool", What: "Submit 20k single tasks, then wait on every future",
			Forkless: Measure{"forkless Pool", "pool", "PoolSubmit/impl=forkless", "items/s"},
			Rivals:   []Measure{{"Python Pool", "pool", "PoolSubmit/impl=python", "items/s"}},
		},
		{
			ID: "pool/latency-p50", Section: "pool", What: "One Apply round trip (submit to result), p50",
			Short:    "Apply round trip p50",
			Headline: "Python Pool",
			Forkless: Measure{"forkless Pool", "pool", "PoolLatency/impl=forkless", "p50-ns"},
			Rivals:   []Measure{{"Python Pool", "pool", "PoolLatency/impl=python", "p50-ns"}},
		},
		{
			ID: "pool/latency-p99", Section: "pool", What: "One task, submit to result, p99",
			Forkless: Measure{"forkless Pool", "pool", "PoolLatency/impl=forkless", "p99-ns"},
			Rivals:   []Measure{{"Python Pool", "pool", "PoolLatency/impl=python", "p99-ns"}},
		},
		poolValuesRow("distinct", "distinct ints (0, 1, 2, ...)"),
		poolValuesRow("constant", "a constant small int"),
		{
			ID: "pool/map-auto-constant", Section: "pool", What: "Pool map over 1M copies of a constant int, automatic chunks, 2 workers",
			Forkless: Measure{"forkless Pool", "pool", "Map/chunk=auto/values=constant/impl=forkless", "items/s"},
			Rivals:   []Measure{{"Python Pool", "pool", "Map/chunk=auto/values=constant/impl=python", "items/s"}},
		},
		{
			ID: "pool/cpu", Section: "pool", What: "CPU-heavy map (16 tasks of ~20 ms), 2 workers against 1",
			Forkless: Measure{"2 workers", "pool", "PoolCPU/workers=2/impl=forkless", "ns/op"},
			Rivals:   []Measure{{"1 worker", "pool", "PoolCPU/workers=1/impl=forkless", "ns/op"}},
		},
		{
			ID: "pool/speedup", Section: "pool", What: "Parallel speed-up of 2 workers over 1 (alternated runs), against 2 goroutines over 1",
			Forkless: Measure{"forkless Pool", "pool", "PoolCPU/workers=1vs2/impl=forkless", "speedup"},
			Rivals:   []Measure{{"Go goroutines", "pool", "PoolCPU/workers=1vs2/impl=goroutines", "speedup"}},
		},

		// cluster (its own module)
		{
			ID: "cluster/map", Section: "cluster", What: "Map of 20k small items, chunked, through an embedded NATS server to a node with a pool of 2 workers",
			Forkless: Measure{"cluster", "cluster", "ClusterMap/cluster", "items/s"},
			Rivals: []Measure{
				{"cluster, in-process node", "cluster", "ClusterMap/cluster-inprocess", "items/s"},
				{"local pool", "cluster", "ClusterMap/local-pool", "items/s"},
			},
		},
		{
			ID: "cluster/apply-p50", Section: "cluster", What: "One Apply round trip through the cluster, p50",
			Forkless: Measure{"cluster", "cluster", "ClusterRoundTrip/cluster", "p50-ns"},
			Rivals: []Measure{
				{"cluster, in-process node", "cluster", "ClusterRoundTrip/cluster-inprocess", "p50-ns"},
				{"local pool", "cluster", "ClusterRoundTrip/local-pool", "p50-ns"},
			},
		},

		// shared
		dictRow("set", 1), dictRow("get", 1), dictRow("set", 2), dictRow("get", 2),
		listRow("append"), listRow("get"),

		// shm
		{
			ID: "array/fill", Section: "shm", What: "Fill an 8 MiB Array",
			Forkless: Measure{"shm.Array", "shm", "Array/op=fill/impl=shm", "ns/op"},
			Rivals:   []Measure{{"Go slice", "shm", "Array/op=fill/impl=slice", "ns/op"}},
		},
		{
			ID: "array/sum", Section: "shm", What: "Sum an 8 MiB Array",
			Forkless: Measure{"shm.Array", "shm", "Array/op=sum/impl=shm", "ns/op"},
			Rivals:   []Measure{{"Go slice", "shm", "Array/op=sum/impl=slice", "ns/op"}},
		},
	},
)
