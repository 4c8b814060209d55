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
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

var f = spawn.Register("main.f", func(ctx context.Context, h shm.Handle) (struct{}, error) {
	q, err := queue.Open(h)
	if err != nil {
		return struct{}{}, err
	}
	return struct{}{}, q.Put(ctx, []byte("hello"))
})

func main() {
	spawn.Main()

	region, err := shm.New(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	q, err := queue.New(region, queue.Config{Bytes: 64 << 10})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	p, err := f.Start(ctx, q.Handle(), spawn.Share(region))
	if err != nil {
		log.Fatal(err)
	}
	msg, err := q.Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg))
	if _, err := p.Wait(ctx); err != nil {
		log.Fatal(err)
	}
}
