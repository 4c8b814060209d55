// Command queue-squares sends jobs to a worker process through a typed
// shared-memory Queue and closes it; the worker drains it and returns a sum.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

type job struct {
	ID    int64
	Value float64
}

// worker runs in a child process: it squares values until the queue is closed.
var worker = spawn.Register("main.worker", func(ctx context.Context, h shm.Handle) (float64, error) {
	q, err := queue.OpenOf[job](h, nil)
	if err != nil {
		return 0, err
	}
	sum := 0.0
	for {
		j, err := q.Get(ctx)
		if errors.Is(err, queue.ErrClosed) {
			return sum, nil // closed and drained
		}
		if err != nil {
			return sum, err
		}
		sum += j.Value * j.Value
	}
})

func main() {
	spawn.Main() // first thing: lets this binary serve as its own child
	ctx := context.Background()
	r, err := shm.New(4 << 20) // an anonymous shared-memory region
	if err != nil {
		panic(err)
	}
	defer r.Close()
	q, err := queue.NewOf[job](r, queue.Config{Bytes: 1 << 20}, nil)
	if err != nil {
		panic(err)
	}
	p, err := worker.Start(ctx, q.Handle(), spawn.Share(r))
	if err != nil {
		panic(err)
	}
	for i := range 1000 {
		if err := q.Put(ctx, job{ID: int64(i), Value: float64(i)}); err != nil {
			panic(err)
		}
	}
	q.Close() // the worker drains what is left, then gets ErrClosed
	sum, err := p.Wait(ctx)
	fmt.Println(sum, err)
}
