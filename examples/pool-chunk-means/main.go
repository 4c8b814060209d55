// Command pool-chunk-means computes the means of the chunks of a large
// array in worker processes without copying it: the array lives in a
// shared region every worker attaches, and each task carries only a handle
// and a range.
//
// Python needs shared_memory plus numpy views in every worker for this;
// Pool.map over the chunks themselves would pickle all 64 MiB.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// part names a range of the shared array: a fixed-size value, so it
// travels as 40+16 raw bytes.
type part struct {
	Array  shm.Handle
	Lo, Hi int
}

var mean = spawn.Register("main.mean", func(ctx context.Context, p part) (float64, error) {
	arr, err := shm.OpenArray[float64](p.Array) // the parent's memory, mapped here
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, x := range arr.Slice()[p.Lo:p.Hi] {
		sum += x
	}
	return sum / float64(p.Hi-p.Lo), nil
})

func main() {
	spawn.Main()

	const n, chunks = 8 << 20, 8 // 8M float64: 64 MiB
	region, err := shm.New(n*8 + 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	arr, err := shm.NewArray[float64](region, n)
	if err != nil {
		log.Fatal(err)
	}
	data := arr.Slice()
	for i := range data {
		data[i] = float64(i / (n / chunks)) // chunk k holds k everywhere
	}

	ctx := context.Background()
	p, err := pool.New(ctx, pool.WorkerOptions(spawn.Share(region)))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	var parts []part
	for k := range chunks {
		parts = append(parts, part{Array: arr.Handle(), Lo: k * n / chunks, Hi: (k + 1) * n / chunks})
	}
	means, err := pool.Map(ctx, p, mean, parts, pool.Chunk(1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(means) // [0 1 2 3 4 5 6 7]
}
