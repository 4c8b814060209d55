package pool_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// poolCube runs in the pool's workers: registered at package scope, like every
// function a child runs.
var poolCube = spawn.Register("pool.poolCube", func(ctx context.Context, x int) (int, error) { return x * x * x, nil })

func ExampleMap() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Workers(2))
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	out, err := pool.Map(ctx, p, poolCube, []int{1, 2, 3, 4, 5})
	fmt.Println(out, err)
	// Output: [1 8 27 64 125] <nil>
}

func ExampleSubmit() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Workers(2))
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	f := pool.Submit(p, poolCube, 3)
	v, err := f.Wait(ctx)
	fmt.Println(v, err)
	// Output: 27 <nil>
}

func ExampleImap() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Workers(2))
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	for v, err := range pool.Imap(ctx, p, poolCube, slices.Values([]int{1, 2, 3})) {
		fmt.Println(v, err)
	}
	// Output:
	// 1 <nil>
	// 8 <nil>
	// 27 <nil>
}
