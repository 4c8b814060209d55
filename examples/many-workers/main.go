// Command many-workers starts one worker per usable CPU, each telling who
// it is and who its parent is, and joins them all: Python's
//
//	def info(title):
//	    print(title, 'parent:', os.getppid(), 'pid:', os.getpid())
//
//	def f(name):
//	    info('function f')
//	    print('hello', name)
//
// with several processes started, then joined, and their exit codes shown.
// Each worker's output is forwarded with its name as a prefix, so lines of
// different workers never mix.
//
//	go run ./examples/many-workers
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

type report struct {
	Pid    int
	Primes int
}

// f counts the primes below n (a little CPU work) and reports who it is.
var f = spawn.Register("main.f", func(ctx context.Context, n int) (report, error) {
	me := spawn.CurrentProcess()
	parent, _ := spawn.ParentProcess()
	fmt.Printf("I am %s, pid %d, parent %s (pid %d)\n", me.Name, me.Pid, parent.Name, parent.Pid)
	count := 0
	for i := 2; i < n; i++ {
		prime := true
		for d := 2; d*d <= i; d++ {
			if i%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return report{Pid: me.Pid, Primes: count}, nil
})

func main() {
	spawn.Main()

	ctx := context.Background()
	n := spawn.CPUCount() // the affinity mask and any cgroup quota included
	fmt.Printf("main process %d starting %d workers (CPUCount)\n", os.Getpid(), n)
	began := time.Now()
	var ps []*spawn.Process[report]
	for i := range n {
		p, err := f.Start(ctx, 200_000*(i+1), spawn.Prefix(""))
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	fmt.Printf("%d children active\n", len(spawn.ActiveChildren()))
	for _, p := range ps {
		r, err := p.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		code, _ := p.ExitCode()
		fmt.Printf("%s (pid %d): %d primes, exit code %d\n", p.Name(), r.Pid, r.Primes, code)
	}
	fmt.Printf("all joined in %v\n", time.Since(began).Round(time.Millisecond))
}
