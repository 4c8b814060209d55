package spawn_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/forkless-go/forkless/spawn"
)

// poolCube runs in the pool's workers: registered at package scope, like every
// function a child runs.
var poolCube = spawn.Register("spawn.poolCube", func(ctx context.Context, x int) (int, error) { return x * x * x, nil })

func ExampleMap() {
	ctx := context.Background()
	pool, err := spawn.NewPool(ctx, spawn.Workers(2))
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	out, err := spawn.Map(ctx, pool, poolCube, []int{1, 2, 3, 4, 5})
	fmt.Println(out, err)
	// Output: [1 8 27 64 125] <nil>
}

func ExampleSubmit() {
	ctx := context.Background()
	pool, err := spawn.NewPool(ctx, spawn.Workers(2))
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	f := spawn.Submit(pool, poolCube, 3)
	v, err := f.Wait(ctx)
	fmt.Println(v, err)
	// Output: 27 <nil>
}

func ExampleImap() {
	ctx := context.Background()
	pool, err := spawn.NewPool(ctx, spawn.Workers(2))
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	for v, err := range spawn.Imap(ctx, pool, poolCube, slices.Values([]int{1, 2, 3})) {
		fmt.Println(v, err)
	}
	// Output:
	// 1 <nil>
	// 8 <nil>
	// 27 <nil>
}
