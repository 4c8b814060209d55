package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/forkless-go/forkless/cluster"
	"github.com/forkless-go/forkless/pool"
)

// benchExecutors returns, for one machine, a cluster (embedded server, one
// node process with a pool of 2 workers) and a local pool of 2 workers:
// the same processes doing the work, one through NATS JetStream; and a
// cluster whose node runs items in its own process on 2 goroutines.
func benchExecutors(b *testing.B) map[string]pool.Executor {
	ctx := testCtx(b, 5*time.Minute)
	s := startServer(b)
	startNodes(b, ctx, s.URL(), "bench", 1, cluster.Workers(2))
	ex := dial(b, ctx, cluster.URL(s.URL()), cluster.WaitNodes(1))
	startNodes(b, ctx, s.URL(), "benchin", 1, cluster.Workers(2), cluster.InProcess(), cluster.Prefix("inproc"))
	exIn := dial(b, ctx, cluster.URL(s.URL()), cluster.WaitNodes(1), cluster.Prefix("inproc"))
	p, err := pool.New(ctx, pool.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	return map[string]pool.Executor{"cluster": ex, "cluster-inprocess": exIn, "local-pool": p}
}

// BenchmarkClusterMap: Map of 20k small items (chunked: 1024 per task on
// the cluster, Python's rule locally) through the cluster and through the
// local pool, in the same run.
func BenchmarkClusterMap(b *testing.B) {
	exs := benchExecutors(b)
	in := make([]int, 20_000)
	for i := range in {
		in[i] = i
	}
	for _, name := range []string{"cluster", "cluster-inprocess", "local-pool"} {
		b.Run(name, func(b *testing.B) {
			ctx := testCtx(b, 5*time.Minute)
			for b.Loop() {
				if _, err := pool.Map(ctx, exs[name], square, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(in))/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkClusterRoundTrip: one Apply at a time; p50 and p99 of its round
// trip (caller -> work stream -> node -> worker -> result stream -> caller).
func BenchmarkClusterRoundTrip(b *testing.B) {
	exs := benchExecutors(b)
	for _, name := range []string{"cluster", "cluster-inprocess", "local-pool"} {
		b.Run(name, func(b *testing.B) {
			ctx := testCtx(b, 5*time.Minute)
			var ds []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := pool.Apply(ctx, exs[name], square, 3); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
