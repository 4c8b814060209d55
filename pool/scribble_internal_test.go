//go:build unix

package pool

import (
	"context"
	"slices"
	"testing"
	"time"

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
