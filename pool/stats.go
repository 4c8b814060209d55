package pool

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"time"
)

// Statistics (issue 16). The counters are atomics the scheduler keeps. On
// top of them a snapshot has per-item progress: a worker publishes results
// a task (chunk) at a time, but its control block's seq word moves per item
// (exit.go), so seq/2 is how many items this worker process has finished,
// and what it finished beyond the results the parent took from it is
// progress not yet delivered. seq is a word the worker writes, so the
// difference is clamped to the items the worker holds. From the finished
// count over time come the rate and the ETA; the task time and latency
// histograms are kept by the collectors as results arrive.

// Stats are a pool's counters and what follows from them. Items are the
// elements of a Map or Imap, or one Submit or Apply each.
type Stats struct {
	Workers   int   // worker processes running
	Submitted int64 // items submitted
	Queued    int64 // items not yet handed to a worker
	InFlight  int64 // items handed to workers, without a result yet
	Done      int64 // items that returned a result
	Failed    int64 // items that failed: error, panic, worker death, time limit
	Cancelled int64 // items dropped because their job was cancelled
	Retried   int64 // items run again after their worker died
	Restarts  int64 // workers that died or were killed, and were replaced
	Recycled  int64 // workers replaced after MaxTasksPerWorker tasks

	// Finished counts items per item, not per task: Done, Failed and
	// Cancelled, plus the items workers have finished whose results are
	// on their way. It never decreases and is at most Submitted.
	Finished int64
	// Rate is items finished per second over the last few seconds (0
	// until two snapshots some time apart saw work finish).
	Rate float64
	// ETA is the time left until every submitted item is finished, at
	// Rate (0 when nothing is left, or the rate is not known).
	ETA time.Duration
	// RunTime is the time a worker spent on one task (a chunk), as the
	// worker measured it; Latency is the time from a task being handed to
	// a worker to its results being back in this process. Both over the
	// pool's life, within 25% (a log-scale histogram).
	RunTime, Latency Percentiles
	// PerWorker is the state of each worker slot.
	PerWorker []WorkerStats
}

// Percentiles summarize a distribution of durations: each is the upper
// bound of the histogram bucket holding it (at most 25% above the value),
// and never above Max.
type Percentiles struct {
	Count              int64
	P50, P90, P99, Max time.Duration
}

// WorkerStats is one worker slot's state.
type WorkerStats struct {
	Slot     int
	Pid      int         // 0 while a replacement starts
	State    WorkerState // what it is doing
	Tasks    int         // tasks handed to it without a result yet, the running one included
	Finished int64       // items this worker process has finished (run or skipped)
}

// WorkerState says what a worker is doing.
type WorkerState string

// Worker states.
const (
	WorkerStarting WorkerState = "starting" // its process starts, or its initializer runs
	WorkerIdle     WorkerState = "idle"     // between items
	WorkerRunning  WorkerState = "running"  // running an item
	WorkerStopping WorkerState = "stopping" // closed, dropped or gone: it takes no more tasks
)

// Stats returns a snapshot of the pool's statistics.
func (p *Pool) Stats() Stats {
	s := Stats{
		Workers:   int(p.st.workers.Load()),
		Queued:    p.st.queued.Load(),
		InFlight:  p.st.inflight.Load(),
		Done:      p.st.done.Load(),
		Failed:    p.st.failed.Load(),
		Cancelled: p.st.cancelled.Load(),
		Retried:   p.st.retried.Load(),
		Restarts:  p.st.restarts.Load(),
		Recycled:  p.st.recycled.Load(),
	}
	p.mu.Lock()
	pending := p.workerStats(&s)
	s.RunTime, s.Latency = p.runTime.percentiles(), p.latency.percentiles()
	p.mu.Unlock()
	s.Submitted = p.st.submitted.Load() // last: every count above is of items submitted by now
	f := min(s.Done+s.Failed+s.Cancelled+pending, s.Submitted)
	for {
		hi := p.finishedHi.Load()
		if f <= hi {
			f = hi
			break
		}
		if p.finishedHi.CompareAndSwap(hi, f) {
			break
		}
	}
	s.Finished = f
	s.Rate = p.rate.observe(time.Now(), f)
	if left := s.Submitted - f; left > 0 && s.Rate > 0 {
		s.ETA = time.Duration(float64(left) / s.Rate * float64(time.Second))
	}
	return s
}

// workerStats fills s.PerWorker and returns the items workers finished
// whose results are not in yet. Called with p.mu held.
func (p *Pool) workerStats(s *Stats) int64 {
	var pending int64
	s.PerWorker = make([]WorkerStats, len(p.workers))
	for i, w := range p.workers {
		ws := WorkerStats{Slot: i, State: WorkerStarting}
		if w != nil && w.gone { // its region is unmapped
			ws.Pid, ws.State = w.proc.Pid(), WorkerStopping
		} else if w != nil {
			ws.Pid, ws.Tasks = w.proc.Pid(), len(w.inflight)-w.ihead
			held := int64(0)
			for _, t := range w.inflight[w.ihead:] {
				held += int64(t.hi - t.lo)
			}
			seq := w.ctl.seq.Load()
			ws.Finished = int64(min(seq/2, 1<<62))
			pending += min(max(ws.Finished-w.delivered, 0), held)
			switch {
			case w.closing:
				ws.State = WorkerStopping
			case w.ctl.ready.Load() == 0:
				ws.State = WorkerStarting
			case seq%2 == 1:
				ws.State = WorkerRunning
			default:
				ws.State = WorkerIdle
			}
		}
		s.PerWorker[i] = ws
	}
	return pending
}

// String is a one-line progress report, for a progress bar:
// "412/1000 items (41.2%), 2 failed, 12.3k items/s, ETA 47s".
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d items", s.Finished, s.Submitted)
	if s.Submitted > 0 {
		fmt.Fprintf(&b, " (%.1f%%)", 100*float64(s.Finished)/float64(s.Submitted))
	}
	if s.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", s.Failed)
	}
	switch r := s.Rate; {
	case r >= 1e6:
		fmt.Fprintf(&b, ", %.1fM items/s", r/1e6)
	case r >= 1e3:
		fmt.Fprintf(&b, ", %.1fk items/s", r/1e3)
	case r > 0:
		fmt.Fprintf(&b, ", %.1f items/s", r)
	}
	if eta := s.ETA.Round(time.Second / 10); eta > 0 {
		fmt.Fprintf(&b, ", ETA %v", eta)
	}
	return b.String()
}

// Var returns the pool's statistics as an expvar.Var, to publish under a
// name of your choice: expvar.Publish("pool", p.Var()). Its String is the
// JSON of a Stats snapshot. (The pool does not import expvar: a program
// that does not publish gets none of its global handlers.)
func (p *Pool) Var() StatsVar { return StatsVar{p} }

// StatsVar is a pool's statistics as an expvar.Var (see Pool.Var).
type StatsVar struct{ p *Pool }

// String returns the JSON of a Stats snapshot.
func (v StatsVar) String() string {
	b, err := json.Marshal(v.p.Stats())
	if err != nil {
		return "null"
	}
	return string(b)
}

// histogram counts durations in log-scale buckets: four per power of two.
// Its writers hold p.mu, and so do its readers.
type histogram struct {
	n     [histBuckets]int64
	count int64
	max   int64
}

const histBuckets = 4 * 66

func bucketOf(ns int64) int {
	if ns < 4 {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) // 3..63
	return e*4 + int(ns>>(e-3)) - 4
}

// bucketTop is the largest value of bucket i.
func bucketTop(i int) int64 {
	if i < 4 {
		return int64(i)
	}
	e, m := i/4, int64(i%4+4)
	if e >= 63 {
		return 1<<63 - 1
	}
	return (m+1)<<(e-3) - 1
}

func (h *histogram) add(ns int64) { h.addN(ns, 1) }

// addN records n values of ns.
func (h *histogram) addN(ns int64, n int) {
	ns = max(ns, 0)
	h.n[bucketOf(ns)] += int64(n)
	h.count += int64(n)
	h.max = max(h.max, ns)
}

func (h *histogram) percentiles() Percentiles {
	if h.count == 0 {
		return Percentiles{}
	}
	at := func(q float64) time.Duration {
		want := int64(q*float64(h.count) + 0.999999) // the ceil(q*count)-th value
		var sum int64
		for i, c := range h.n {
			if sum += c; sum >= want {
				return time.Duration(min(bucketTop(i), h.max))
			}
		}
		return time.Duration(h.max)
	}
	return Percentiles{Count: h.count, P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: time.Duration(h.max)}
}

// rateMeter turns the finished count of successive snapshots into a rate
// over the last rateWindow: it keeps a sample at most every rateStep.
type rateMeter struct {
	mu   sync.Mutex
	at   [64]time.Time
	n    [64]int64
	head int // next sample's place
	used int
}

const (
	rateWindow = 5 * time.Second
	rateStep   = 100 * time.Millisecond
)

// observe records n finished at now and returns the rate in items/s.
func (r *rateMeter) observe(now time.Time, n int64) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := (r.head + len(r.at) - 1) % len(r.at)
	if r.used == 0 || now.Sub(r.at[last]) >= rateStep {
		r.at[r.head], r.n[r.head] = now, n
		r.head = (r.head + 1) % len(r.at)
		r.used = min(r.used+1, len(r.at))
	}
	// The base: the oldest sample inside the window, or the newest outside it.
	base := -1
	for k := range r.used {
		i := (r.head + len(r.at) - 1 - k) % len(r.at) // newest first
		if base >= 0 && now.Sub(r.at[i]) > rateWindow {
			break
		}
		base = i
	}
	if base < 0 {
		return 0
	}
	dt := now.Sub(r.at[base])
	if dt < rateStep/2 || n <= r.n[base] {
		return 0
	}
	return float64(n-r.n[base]) / dt.Seconds()
}

// Progress returns a channel that always holds the latest statistics after
// a change: a progress bar reads it whenever it likes and never misses the
// final state (a newer value replaces an unread older one). While the pool
// has work, a snapshot arrives at least every ProgressInterval.
func (p *Pool) Progress() <-chan Stats {
	p.progressOn.Store(true)
	p.wakeProgress()
	return p.progress
}

// wakeProgress starts the interval reports and the stall checks.
func (p *Pool) wakeProgress() {
	select {
	case p.progressWake <- struct{}{}:
	default:
	}
}

func (p *Pool) reportProgress() {
	if !p.progressOn.Load() {
		return
	}
	p.progressMu.Lock()
	defer p.progressMu.Unlock()
	s := p.Stats()
	select {
	case <-p.progress:
	default:
	}
	p.progress <- s
	if p.cfg.onProgress != nil {
		p.cfg.onProgress(s)
	}
}

// progressLoop runs while work is queued or in flight, and sleeps on
// progressWake otherwise (an idle pool costs nothing): every
// ProgressInterval it reports progress, if anyone wants it, and every
// stallTick it looks for stalled workers (stall.go).
func (p *Pool) progressLoop() {
	for {
		select {
		case <-p.stop:
			return
		case <-p.progressWake:
		}
		every := stallTick
		if p.progressOn.Load() {
			every = min(p.cfg.progressEvery, stallTick)
		}
		tick := time.NewTicker(every)
		lastReport := time.Now()
		for busy := true; busy; {
			select {
			case <-p.stop:
				tick.Stop()
				return
			case now := <-tick.C:
				if now.Sub(lastReport) >= p.cfg.progressEvery-time.Millisecond {
					p.reportProgress()
					lastReport = now
				}
				p.checkStalls(now)
			}
			busy = p.st.queued.Load()+p.st.inflight.Load() > 0
		}
		tick.Stop()
	}
}
