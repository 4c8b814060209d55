//go:build unix

package pool_test

import (
	"encoding/json"
	"expvar"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
)

// Issue 16: progress moves per item, not a chunk at a time; snapshots
// carry a rate, an ETA, each worker's state and task time percentiles;
// and the stats are readable through expvar.
func TestPoolStatsPerItem(t *testing.T) {
	var mu sync.Mutex
	var snaps []pool.Stats
	p := newTestPool(t, pool.ProgressInterval(10*time.Millisecond), pool.OnProgress(func(s pool.Stats) {
		mu.Lock()
		snaps = append(snaps, s)
		mu.Unlock()
	}))
	const n, chunk, nap = 200, 50, 3 * time.Millisecond
	in := make([]sleepArg, n)
	for i := range in {
		in[i] = sleepArg{D: nap, N: i}
	}
	out, err := pool.Map(poolCtx(t, 60*time.Second), p, poolSleep, in, pool.Chunk(chunk))
	if err != nil || out[n-1] != n-1 {
		t.Fatalf("map: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	pids := p.Pids()
	var steps []int64
	var rated, running bool
	for i, s := range snaps {
		if i > 0 && s.Finished < snaps[i-1].Finished {
			t.Fatalf("Finished went back: %d after %d", s.Finished, snaps[i-1].Finished)
		}
		if s.Finished > 0 && s.Finished < n && !slices.Contains(steps, s.Finished) {
			steps = append(steps, s.Finished)
		}
		if s.Finished > s.Submitted {
			t.Fatalf("finished %d of %d submitted", s.Finished, s.Submitted)
		}
		rated = rated || (s.Rate > 0 && s.ETA > 0)
		for _, w := range s.PerWorker {
			if w.State == pool.WorkerRunning && slices.Contains(pids, w.Pid) && w.Tasks > 0 {
				running = true
			}
		}
	}
	// A chunk at a time would show at most n/chunk-1 = 3 steps between 0
	// and n.
	if len(steps) < 8 {
		t.Errorf("progress took %d steps between 0 and %d (%v): not per item", len(steps), n, steps)
	}
	if !rated {
		t.Error("no snapshot had a rate and an ETA")
	}
	if !running {
		t.Error("no snapshot showed a worker running")
	}
	s := p.Stats()
	if s.Finished != n || s.Done != n || len(s.PerWorker) != 2 {
		t.Fatalf("final stats %+v", s)
	}
	rt, lat := s.RunTime, s.Latency
	if rt.Count != n/chunk || lat.Count != n/chunk {
		t.Errorf("run time %+v, latency %+v: want %d tasks", rt, lat, n/chunk)
	}
	// A task of 50 naps of 3 ms runs at least 150 ms; percentiles are
	// bucket tops, never below the value.
	if rt.P50 < chunk*nap || !(rt.P50 <= rt.P90 && rt.P90 <= rt.P99 && rt.P99 <= rt.Max) || lat.Max < rt.Max {
		t.Errorf("run time %+v, latency %+v", rt, lat)
	}
	if str := s.String(); !strings.HasPrefix(str, "200/200 items (100.0%)") {
		t.Errorf("String() = %q", str)
	}
	name := freshName("pool.stats")
	expvar.Publish(name, p.Var())
	var got pool.Stats
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Done != n || got.Finished != n || len(got.PerWorker) != 2 || got.RunTime.Count != n/chunk {
		t.Errorf("expvar gave %+v", got)
	}
}
