// Command spsc-ticks streams fixed-size ticks from a child process to its
// parent through a single-producer single-consumer ring, in batches.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

type Tick struct {
	Seq   uint64
	Price float64
}

// The producer runs in a child process; it binds the ring from its handle.
var produce = spawn.Register("main.produce", func(ctx context.Context, h shm.Handle) (int, error) {
	q, err := ring.OpenSPSC[Tick](h)
	if err != nil {
		return 0, err
	}
	batch := make([]Tick, 64)
	for i := range 1000 {
		for j := range batch {
			batch[j] = Tick{Seq: uint64(i*64 + j), Price: 100}
		}
		if _, err := q.PushAll(ctx, batch); err != nil { // one publication per batch
			return i, err
		}
	}
	return 64000, q.Close() // the consumer drains what is left, then gets ErrClosed
})

func main() {
	spawn.Main() // first thing in main: lets this binary serve as the child

	r, err := shm.New(4 << 20)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	q, err := ring.NewSPSC[Tick](r, 4096)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p, err := produce.Start(ctx, q.Handle(), spawn.Share(r))
	if err != nil {
		panic(err)
	}
	buf := make([]Tick, 256)
	total := 0
	for {
		n, err := q.PopSome(ctx, buf) // blocks (spin, then futex) until items arrive
		if errors.Is(err, ring.ErrClosed) {
			break
		}
		if err != nil {
			panic(err)
		}
		total += n
	}
	if _, err := p.Wait(ctx); err != nil {
		panic(err)
	}
	fmt.Println("received", total, "ticks")
}
