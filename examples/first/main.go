// Command first is the README's first program: a child process fills part
// of an array its parent created, zero-copy.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Functions that run in a child are registered at package scope, so that the
// child, which is this same binary started again, registers them too.
// The array travels as the argument: the child receives it bound to the same
// shared memory, and its region is shared for you.
var square = spawn.Register("main.square", func(ctx context.Context, arr *shm.Array[int64]) (int, error) {
	s := arr.Slice() // the shared memory itself
	for i := range s {
		s[i] = int64(i * i)
	}
	return len(s), nil
})

func main() {
	spawn.Main() // first thing: in a child, this runs the requested function and exits

	region, err := shm.New(1 << 20) // anonymous: freed when the last process closes it
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	arr, err := shm.NewArray[int64](region, 10)
	if err != nil {
		log.Fatal(err)
	}

	n, err := square.Run(context.Background(), arr)
	if err != nil {
		log.Fatal(err) // a child's error or panic comes back here, with its pid and stack
	}
	fmt.Println(n, arr.Slice()) // 10 [0 1 4 9 16 25 36 49 64 81]
}
