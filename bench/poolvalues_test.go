//go:build linux

package bench

import (
	"context"
	"strconv"
	"testing"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// squareInt is the mapped function of BenchmarkPoolMapValues.
var squareInt = spawn.Register("bench.squareInt", func(ctx context.Context, x int) (int, error) { return x * x, nil })

// poolValuesN is how many items one map call carries.
const poolValuesN = 1_000_000

// poolValues are the items of each kind: "distinct" is 0, 1, 2, ...
// (Python pickles each int apart), "constant" is the small int 7 repeated.
func poolValues(kind string) []int {
	in := make([]int, poolValuesN)
	for i := range in {
		if kind == "distinct" {
			in[i] = i
		} else {
			in[i] = 7
		}
	}
	return in
}

// BenchmarkPoolMapValues maps square over 1M items with automatic chunks
// on a pool of 2 workers, for distinct ints and for a constant small int,
// against Python's Pool.map over the same items
// (bench/python/pool_map_values.py, one script run per iteration, timed by
// the script from a warmed-up pool). It reports items/s and ns/item.
// Names: PoolMapValues/impl=forkless|python/values=distinct|constant.
func BenchmarkPoolMapValues(b *testing.B) {
	for _, kind := range []string{"distinct", "constant"} {
		b.Run("impl=forkless/values="+kind, func(b *testing.B) {
			ctx := context.Background()
			in := poolValues(kind)
			p, err := pool.New(ctx, pool.Workers(2))
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(ctx)
			if _, err := pool.Map(ctx, p, squareInt, in[:1000]); err != nil { // workers started and serving
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := pool.Map(ctx, p, squareInt, in)
				if err != nil || out[len(out)-1] != in[len(in)-1]*in[len(in)-1] {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N*poolValuesN)
			b.ReportMetric(per, "ns/item")
			b.ReportMetric(1e9/per, "items/s")
		})
		b.Run("impl=python/values="+kind, func(b *testing.B) {
			var per float64
			for i := 0; i < b.N; i++ {
				per += python(b, "pool_map_values.py", "2", strconv.Itoa(poolValuesN), kind)["ns_per_item"]
			}
			per /= float64(b.N)
			b.ReportMetric(per, "ns/item")
			b.ReportMetric(1e9/per, "items/s")
		})
	}
}
