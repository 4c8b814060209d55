package cluster_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/cluster"
	"github.com/forkless-go/forkless/pool"
)

// TestSoak maps round after round for FORKLESS_SOAK (a duration; skipped
// when unset) while, in each round, a random node is SIGKILLed and
// replaced, or the server restarts. Every item must come back once, right.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("FORKLESS_SOAK not set")
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ctx := testCtx(t, d+3*time.Minute)
	dir := t.TempDir()
	s, err := cluster.StartServer("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Shutdown() }()
	addr, url := s.Addr(), s.URL()
	opts := []cluster.Option{cluster.InProcess(), cluster.Workers(2), cluster.AckWait(time.Second)}
	nodes := startNodes(t, ctx, url, "soak", 3, opts...)
	ex := dial(t, ctx, cluster.URL(url), cluster.WaitNodes(3))
	kills, restarts := 0, 0
	for end, round := time.Now().Add(d), 0; time.Now().Before(end); round++ {
		done := make(chan struct{})
		var out []slowOut
		var merr error
		go func() {
			defer close(done)
			out, merr = pool.Map(ctx, ex, slow, slowItems(2000, 500*time.Microsecond), pool.Chunk(25))
		}()
		waitDone(t, ctx, ex, ex.Stats().Done+int64(rng.IntN(1500)))
		if rng.IntN(3) == 0 {
			s.Shutdown()
			if s, err = cluster.StartServer(addr, dir); err != nil {
				t.Fatal(err)
			}
			restarts++
		} else {
			k := rng.IntN(len(nodes))
			nodes[k].Kill()
			nodes[k] = startNodes(t, ctx, url, "soak-r", 1, opts...)[0]
			kills++
		}
		<-done
		if merr != nil {
			t.Fatalf("round %d: %v", round, merr)
		}
		checkSlow(t, out)
	}
	t.Logf("%d node kills, %d server restarts; stats %+v", kills, restarts, ex.Stats())
}
