// Command worker-arg is the first example of Python's multiprocessing
// tutorial in Go: five processes, each given an argument.
//
//	def worker(num):
//	    print('Worker:', num)
//
//	if __name__ == '__main__':
//	    for i in range(5):
//	        multiprocessing.Process(target=worker, args=(i,)).start()
//
// Run it with:
//
//	go run ./examples/worker-arg
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/forkless-go/forkless/spawn"
)

// worker runs in a child process. It is registered at package scope, so
// every process of this binary knows it by the same name.
var worker = spawn.Register("main.worker", func(ctx context.Context, num int) (struct{}, error) {
	fmt.Println("Worker:", num)
	return struct{}{}, nil
})

func main() {
	spawn.Main() // in a child, this runs worker and exits

	ctx := context.Background()
	var jobs []*spawn.Process[struct{}]
	for i := range 5 {
		p, err := worker.Start(ctx, i)
		if err != nil {
			log.Fatal(err)
		}
		jobs = append(jobs, p)
	}
	for _, p := range jobs {
		if _, err := p.Wait(ctx); err != nil {
			log.Fatal(err)
		}
	}
}
