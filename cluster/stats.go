package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/forkless-go/forkless/pool"
)

// counters are the executor's statistics, in items. Queued and in-flight
// items are told apart by the nodes' start notices.
type counters struct {
	submitted, queued, inflight, done, failed atomic.Int64
	cancelled, retried, malformed             atomic.Int64

	rateMu  sync.Mutex
	samples []sample // finished counts lately, oldest first, for Rate

	progressMu sync.Mutex
	progress   chan pool.Stats
	progressOn atomic.Bool
	ex         *Executor
}

func (c *counters) submit(n int) {
	c.submitted.Add(int64(n))
	c.queued.Add(int64(n))
}

// start records that a node started items of t (e.mu held).
func (c *counters) start(t *ctask, attempt, items int) {
	if !t.started {
		t.started = true
		c.queued.Add(-int64(t.left))
		c.inflight.Add(int64(t.left))
	}
	if attempt > 1 {
		c.retried.Add(int64(min(items, t.left)))
	}
}

// settle records items of t that left it (e.mu held).
func (c *counters) settle(t *ctask, done, failed, closed, cancelled int) {
	n := int64(done + failed + closed + cancelled)
	if t.started {
		c.inflight.Add(-n)
	} else {
		c.queued.Add(-n)
	}
	c.done.Add(int64(done))
	c.failed.Add(int64(failed + closed))
	c.cancelled.Add(int64(cancelled))
}

type sample struct {
	at       time.Time
	finished int64
}

// Stats returns a snapshot of the executor's counters, as pool.Stats:
// Workers is what the live nodes announce, Retried counts items of chunks
// started again after a node died or an item panicked, Finished is Done,
// Failed and Cancelled (results travel a chunk at a time), Rate is over
// the last 5 s and ETA follows from it. Restarts, Recycled, RunTime,
// Latency and PerWorker stay empty: each node's pool keeps its own.
func (e *Executor) Stats() pool.Stats {
	c := &e.st
	st := pool.Stats{
		Workers: e.nodes.workers(), Submitted: c.submitted.Load(), Queued: c.queued.Load(),
		InFlight: c.inflight.Load(), Done: c.done.Load(), Failed: c.failed.Load(),
		Cancelled: c.cancelled.Load(), Retried: c.retried.Load(),
	}
	st.Finished = st.Done + st.Failed + st.Cancelled
	st.Rate = c.rate(st.Finished)
	if left := st.Submitted - st.Finished; left > 0 && st.Rate > 0 {
		st.ETA = time.Duration(float64(left) / st.Rate * float64(time.Second))
	}
	return st
}

// rate records finished now and returns items per second over the last
// 5 s (0 until two samples 100 ms apart saw work finish).
func (c *counters) rate(finished int64) float64 {
	c.rateMu.Lock()
	defer c.rateMu.Unlock()
	now := time.Now()
	if n := len(c.samples); n == 0 || now.Sub(c.samples[n-1].at) >= 100*time.Millisecond {
		c.samples = append(c.samples, sample{now, finished})
	}
	for len(c.samples) > 2 && now.Sub(c.samples[1].at) > 5*time.Second {
		c.samples = c.samples[1:]
	}
	first := c.samples[0]
	if dt := now.Sub(first.at); dt >= 100*time.Millisecond && finished > first.finished {
		return float64(finished-first.finished) / dt.Seconds()
	}
	return 0
}

// Progress returns a channel that always holds the latest statistics after
// a change, as pool.Pool.Progress does.
func (e *Executor) Progress() <-chan pool.Stats {
	c := &e.st
	c.progressMu.Lock()
	if c.progress == nil {
		c.progress, c.ex = make(chan pool.Stats, 1), e
	}
	c.progressMu.Unlock()
	c.progressOn.Store(true)
	return c.progress
}

func (c *counters) changed() {
	if !c.progressOn.Load() {
		return
	}
	c.progressMu.Lock()
	defer c.progressMu.Unlock()
	select {
	case <-c.progress:
	default:
	}
	c.progress <- c.ex.Stats()
}

// Node is what a node announces about itself every helloEvery.
type Node struct {
	Name    string
	Workers int
	Pid     int
	Host    string
}

const helloEvery = time.Second

// presence keeps the nodes heard from lately.
type presence struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	nodes map[string]Node
	heard chan struct{} // closed and replaced on every new node
}

func (p *presence) init() {
	p.seen, p.nodes, p.heard = map[string]time.Time{}, map[string]Node{}, make(chan struct{})
}

func (p *presence) onHello(m *nats.Msg) {
	var n Node
	if json.Unmarshal(m.Data, &n) != nil || n.Name == "" || n.Workers < 0 || n.Workers > 1<<20 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, known := p.nodes[n.Name]
	p.seen[n.Name], p.nodes[n.Name] = time.Now(), n
	if !known {
		close(p.heard)
		p.heard = make(chan struct{})
	}
}

// live returns the nodes heard from within three hello periods.
func (p *presence) live() []Node {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Node
	for name, t := range p.seen {
		if time.Since(t) < 3*helloEvery {
			out = append(out, p.nodes[name])
		}
	}
	return out
}

func (p *presence) workers() int {
	n := 0
	for _, nd := range p.live() {
		n += nd.Workers
	}
	return n
}

// wait returns once want nodes are live.
func (p *presence) wait(ctx context.Context, want int) error {
	for {
		p.mu.Lock()
		heard := p.heard
		p.mu.Unlock()
		if len(p.live()) >= want {
			return nil
		}
		select {
		case <-heard:
		case <-time.After(helloEvery):
		case <-ctx.Done():
			return fmt.Errorf("wait for %d nodes (%d live): %w", want, len(p.live()), ctx.Err())
		}
	}
}

// Nodes returns the nodes heard from within the last three seconds.
func (e *Executor) Nodes() []Node { return e.nodes.live() }
