package pool

import (
	"context"
	"testing"

	"github.com/forkless-go/forkless/internal/registry"
	"github.com/forkless-go/forkless/spawn"
)

var benchSquareEntry = spawn.Register("pool.benchSquareEntry", func(ctx context.Context, x int) (int, error) { return x * x, nil })

// BenchmarkPoolWorkerItem is the worker's cost per item, in process: the
// registry's AppendRun (decode, call, encode in place) and the result
// record around it.
func BenchmarkPoolWorkerItem(b *testing.B) {
	e, ok := registry.Lookup(benchSquareEntry.Name())
	if !ok {
		b.Fatal("not registered")
	}
	w := &workerLoop{ctx: context.Background()}
	arg := make([]byte, 8)
	out := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		out = w.runItem(e, arg, out[:0])
	}
}
