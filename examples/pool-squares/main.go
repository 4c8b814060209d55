// Command pool-squares is the classic first Pool program: the squares of
// 0..9 with Pool.map, in worker processes.
//
// Python:
//
//	with Pool(5) as p:
//	    print(p.map(f, range(10)))
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// square runs in the workers; it is registered at package scope so that
// every worker, this same binary started again, knows it.
var square = spawn.Register("main.square", func(ctx context.Context, x int) (int, error) { return x * x, nil })

func main() {
	spawn.Main() // first thing: a worker serves tasks here and never returns

	ctx := context.Background()
	p, err := pool.New(ctx, pool.Workers(5))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx) // waits for the work, then for the workers to exit

	in := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	out, err := pool.Map(ctx, p, square, in)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out) // [0 1 4 9 16 25 36 49 64 81]
}
