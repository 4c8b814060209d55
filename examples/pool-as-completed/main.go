// Command pool-as-completed submits squares that sleep for different
// times and prints each result as it completes, then the same with
// ImapUnordered.
//
// Python:
//
//	with ProcessPoolExecutor() as ex:
//	    futures = [ex.submit(slow_square, x) for x in xs]
//	    for f in as_completed(futures):
//	        print(f.result())
package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// slowSquare sleeps longer for smaller numbers, so results complete in
// reverse order of submission.
var slowSquare = spawn.Register("main.slowSquare", func(ctx context.Context, x int) (int, error) {
	select {
	case <-time.After(time.Duration(5-x) * 40 * time.Millisecond):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return x * x, nil
})

func main() {
	spawn.Main()

	ctx := context.Background()
	p, err := pool.New(ctx, pool.Workers(5))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	var futures []*pool.Future[int]
	for x := range 5 {
		futures = append(futures, pool.Submit(p, slowSquare, x))
	}
	for i, f := range pool.AsCompleted(ctx, futures...) {
		v, err := f.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("task %d: %d\n", i, v) // most likely 4 first, 0 last
	}

	// The streaming form: results in completion order from an input
	// sequence, with a bounded number of tasks in flight.
	var got []int
	for v, err := range pool.ImapUnordered(ctx, p, slowSquare, slices.Values([]int{0, 1, 2, 3, 4})) {
		if err != nil {
			log.Fatal(err)
		}
		got = append(got, v)
	}
	fmt.Println("unordered:", got)
}
