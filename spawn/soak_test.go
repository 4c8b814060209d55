//go:build unix

package spawn_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// TestSoakLifeCycle starts, terminates, kills, closes and waits for children
// in random order for FORKLESS_SOAK (a duration; skipped when unset), then
// checks that no child, zombie or descriptor is left.
func TestSoakLifeCycle(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set FORKLESS_SOAK=30s to soak")
	}
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	square.Run(ctxT(t), 1)
	fd0 := fds()
	deadline := time.Now().Add(d)
	rounds, started := 0, 0
	for time.Now().Before(deadline) {
		var ps []*spawn.Process[struct{}]
		for range 4 {
			p, err := sleeping.Start(ctxT(t), time.Duration(rand.IntN(20))*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
			started++
		}
		for _, p := range ps {
			switch rand.IntN(5) {
			case 0:
				p.Kill()
			case 1:
				p.Terminate()
			case 2:
				p.Close()
			case 3:
				p.Stop(10 * time.Millisecond)
			}
		}
		for _, p := range ps {
			if _, err := p.Wait(ctxT(t)); err != nil {
				if code, _ := p.ExitCode(); code != -9 && code != -15 {
					t.Fatalf("%s: %v (exit code %d)", p.Name(), err, code)
				}
			}
		}
		rounds++
	}
	t.Logf("%d rounds, %d children", rounds, started)
	noChildrenLeft(t)
	if fd1 := fds(); fd1 > fd0 {
		t.Fatalf("descriptors %d -> %d", fd0, fd1)
	}
}
