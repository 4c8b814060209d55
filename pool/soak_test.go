//go:build unix

package pool_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
)

// TestPoolSoak runs maps while a killer SIGKILLs random workers, for
// FORKLESS_SOAK (a duration; skipped when unset). Every item must come back
// exactly once: either its result, or a *WorkerError naming the death.
func TestPoolSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("FORKLESS_SOAK not set")
	}
	p := newTestPool(t, pool.Workers(3), pool.TaskTimeout(5*time.Second))
	stop := make(chan struct{})
	var killed atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(20+rand.IntN(80)) * time.Millisecond):
			}
			if pids := p.Pids(); len(pids) > 0 {
				syscall.Kill(pids[rand.IntN(len(pids))], syscall.SIGKILL)
				killed.Add(1)
			}
		}
	}()
	end := time.Now().Add(d)
	rounds, failed := 0, 0
	for time.Now().Before(end) {
		n := 1000 + rand.IntN(20000)
		in := make([]sleepArg, n)
		for i := range in {
			in[i] = sleepArg{N: i}
			if rand.IntN(200) == 0 {
				in[i].D = time.Millisecond
			}
		}
		out, err := pool.Map(poolCtx(t, time.Minute), p, poolSleep, in, pool.Chunk(1+rand.IntN(64)))
		bad := map[int]bool{}
		if err != nil {
			var me *pool.MapError
			if !errors.As(err, &me) {
				t.Fatalf("round %d: %v", rounds, err)
			}
			for _, f := range me.Failed {
				var we *pool.WorkerError
				if !errors.As(f.Err, &we) || bad[f.Index] {
					t.Fatalf("round %d: item %d: %v (twice: %v)", rounds, f.Index, f.Err, bad[f.Index])
				}
				bad[f.Index] = true
			}
			failed += len(me.Failed)
		}
		for i := range in {
			if !bad[i] && out[i] != i {
				t.Fatalf("round %d: out[%d] = %d", rounds, i, out[i])
			}
		}
		rounds++
	}
	close(stop)
	t.Logf("%d rounds, %d workers killed, %d items failed with their worker; stats %+v", rounds, killed.Load(), failed, p.Stats())
}
