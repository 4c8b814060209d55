//go:build unix

package pool

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

var scribbleDouble = spawn.Register("pool.scribbleDouble", func(ctx context.Context, x int) (int, error) { return 2 * x, nil })

// Issue 13: a worker's task ring that refuses tasks it has room for (its
// closed flag set by a stray write, as a task scribbling its worker's
// region did) is that worker's failure: the parent kills and replaces the
// worker and the map goes on, where it used to panic the user's program.
func TestScribbledTaskRingDropsTheWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := New(ctx, Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	p.mu.Lock()
	p.workers[0].tasks.Close() // the stray write: the parent did not close it
	p.mu.Unlock()
	in := []int{1, 2, 3, 4, 5, 6, 7, 8}
	out, err := Map(ctx, p, scribbleDouble, in, Chunk(1))
	if err != nil {
		t.Fatalf("map after the scribble: %v", err)
	}
	want := []int{2, 4, 6, 8, 10, 12, 14, 16}
	if !slices.Equal(out, want) {
		t.Fatalf("map = %v, want %v", out, want)
	}
	if s := p.Stats(); s.Restarts != 1 {
		t.Errorf("stats %+v, want 1 restart", s)
	}
}

// Issue 13: a task that scribbles its own worker's region (random words
// into the worker's rings, control block and heap while a Map runs) is
// that worker's failure: the parent never panics, never hangs past the
// Map's context, never leaves its mutex held, and never returns a wrong
// result with a nil error. FORKLESS_SOAK (a duration) runs more rounds.
func TestScribbledRegionIsTheWorkersFailure(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("FORKLESS_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (FORKLESS_SEED)", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	rounds := 12
	if d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK")); err == nil && d > 0 {
		rounds = int(d / (250 * time.Millisecond))
	}
	in := make([]int, 3000)
	for i := range in {
		in[i] = i
	}
	stats := map[string]int{}
	for round := range rounds {
		outcome := scribbleRound(t, rng, in, round)
		stats[outcome]++
	}
	t.Logf("outcomes over %d rounds: %v", rounds, stats)
}

// scribbleRound runs one Map while random words land in one worker's
// region, and says how the Map ended.
func scribbleRound(t *testing.T, rng *rand.Rand, in []int, round int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := New(ctx, Workers(2), Retries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	p.mu.Lock()
	w := p.workers[rng.IntN(2)]
	var zones [][]byte
	for _, h := range []struct {
		h shm.Handle
		k shm.Kind
	}{{w.tasks.Handle(), ring.KindSPSC}, {w.results.Handle(), ring.KindSPSC}, {w.heap.Handle(), shm.KindHeap}} {
		b, err := w.region.Bind(h.h, h.k)
		if err != nil {
			p.mu.Unlock()
			t.Fatal(err)
		}
		zones = append(zones, b.Bytes()[:min(len(b.Bytes()), 64<<10)])
	}
	zones = append(zones, mapped.Bytes(w.ctl)[:])
	p.mu.Unlock()
	words := 1 + rng.IntN(16)
	delay := time.Duration(rng.IntN(3000)) * time.Microsecond
	scribbled := make(chan struct{})
	go func() {
		defer close(scribbled)
		time.Sleep(delay)
		for range words {
			z := zones[rng.IntN(len(zones))]
			if rng.IntN(2) == 0 {
				z = z[:min(len(z), 1024)] // the headers, cursors and first slots
			}
			off := rng.IntN(len(z)-8) &^ 7
			binary.NativeEndian.PutUint64(z[off:], rng.Uint64()>>(rng.IntN(64)))
		}
	}()
	type result struct {
		out []int
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := Map(ctx, p, scribbleDouble, in, Chunk(25))
		done <- result{out, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("round %d: Map hung 10 s past its context (%d words after %v)", round, words, delay)
	}
	if errors.Is(r.err, context.DeadlineExceeded) {
		// 3000 doublings take milliseconds: the pool was stuck.
		t.Fatalf("round %d: Map ran into its 10 s context: %v; stats %v", round, r.err, p.Stats())
	}
	<-scribbled
	var failed map[int]bool
	var me *MapError
	switch {
	case r.err == nil:
	case errors.As(r.err, &me):
		failed = map[int]bool{}
		for _, f := range me.Failed {
			failed[f.Index] = true
		}
	default:
		t.Logf("round %d: %v", round, r.err)
		return "error: " + strings.SplitN(r.err.Error(), ":", 2)[0]
	}
	for i, v := range r.out {
		if v != 2*in[i] && !failed[i] {
			t.Fatalf("round %d: item %d = %d with no error (want %d; err %v)", round, i, v, 2*in[i], r.err)
		}
	}
	locked := make(chan struct{})
	go func() { p.mu.Lock(); p.mu.Unlock(); close(locked) }()
	select {
	case <-locked:
	case <-time.After(10 * time.Second):
		t.Fatalf("round %d: the pool's mutex is still held after Map returned", round)
	}
	if r.err != nil {
		return "items failed"
	}
	return "ok"
}

// Issue 13: a worker heap whose free lists were written over answers the
// parent's Alloc with ErrCorrupt: that is the worker's failure (it is
// replaced and the item goes to the next worker), not the item's, which
// used to fail as too large.
func TestScribbledHeapDropsTheWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := New(ctx, Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate(context.Background())
	p.mu.Lock()
	w := p.workers[0]
	b, err := w.region.Bind(w.heap.Handle(), shm.KindHeap)
	if err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	for off := 192; off < 1024; off += 8 { // every free list's head
		binary.NativeEndian.PutUint64(b.Bytes()[off:], 0x7fff_fff0)
	}
	p.mu.Unlock()
	// Longer than a descriptor's inline area: the arguments go to the heap.
	in := []string{strings.Repeat("a", 200), strings.Repeat("b", 200), strings.Repeat("c", 200)}
	out, err := Map(ctx, p, scribbleUpper, in, Chunk(1))
	if err != nil {
		t.Fatalf("map after the scribble: %v", err)
	}
	for i := range in {
		if out[i] != strings.ToUpper(in[i]) {
			t.Fatalf("out[%d] = %q", i, out[i])
		}
	}
	if s := p.Stats(); s.Restarts != 1 {
		t.Errorf("stats %+v, want 1 restart", s)
	}
}

var scribbleUpper = spawn.Register("pool.scribbleUpper", func(ctx context.Context, s string) (string, error) { return strings.ToUpper(s), nil })
