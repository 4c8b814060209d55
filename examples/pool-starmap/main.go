// Command pool-starmap multiplies pairs with the starmap case: several
// arguments per task travel as one struct (pool.Args2 saves declaring it).
//
// Python:
//
//	with Pool() as p:
//	    print(p.starmap(mul, [(1, 2), (3, 4), (5, 6)]))
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

var mul = spawn.Register("main.mul", func(ctx context.Context, a pool.Args2[int, int]) (int, error) {
	return a.A * a.B, nil
})

// A named struct works the same and reads better for more arguments.
type span struct {
	From, To, Step int
}

var count = spawn.Register("main.count", func(ctx context.Context, s span) (int, error) {
	n := 0
	for i := s.From; i < s.To; i += s.Step {
		n++
	}
	return n, nil
})

func main() {
	spawn.Main()

	ctx := context.Background()
	p, err := pool.New(ctx, pool.Workers(2))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	products, err := pool.Map(ctx, p, mul, []pool.Args2[int, int]{{A: 1, B: 2}, {A: 3, B: 4}, {A: 5, B: 6}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(products) // [2 12 30]

	counts, err := pool.Map(ctx, p, count, []span{{0, 10, 1}, {0, 10, 3}, {5, 100, 10}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counts) // [10 4 10]
}
