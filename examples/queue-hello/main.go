// Command queue-hello is the tutorial's queue example: a child puts
// "hello" on a queue and the parent gets it. Python:
//
//	def f(q):
//	    q.put('hello')
//
//	q = multiprocessing.Queue()
//	p = Process(target=f, args=(q,))
//	p.start()
//	print(q.get())
//	p.join()
//
// The queue is a ring in shared memory: no feeder thread, no pipe.
//
//	go run ./examples/queue-hello
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/spawn"
)

// The queue itself is the argument, as in Python: the child receives it
// bound, and its region is shared for us.
var f = spawn.Register("main.f", func(ctx context.Context, q *queue.Queue) (struct{}, error) {
	return struct{}{}, q.Put(ctx, []byte("hello"))
})

func main() {
	spawn.Main()
	ctx := context.Background()

	q := must(queue.New(nil, queue.Config{})) // nil: the queue makes its own shared memory
	p := must(f.Start(ctx, q))
	fmt.Println(string(must(q.Get(ctx))))
	must(p.Wait(ctx))
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
