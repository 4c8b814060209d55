// Command pool-cpucount sizes a pool from the CPUs the process may use
// (affinity mask and cgroup quota, not just the machine's cores) and shows
// that the work spread over the workers.
//
// Python:
//
//	with Pool(processes=os.cpu_count()) as p: ...
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// work burns some CPU and says which worker did it.
var work = spawn.Register("main.work", func(ctx context.Context, n int) (int, error) {
	h := uint64(n)
	for i := range 5_000_000 {
		h = h*6364136223846793005 + uint64(i)
	}
	_ = h
	return os.Getpid(), nil
})

func main() {
	spawn.Main()

	ctx := context.Background()
	n := spawn.CPUCount()
	p, err := pool.New(ctx, pool.Workers(n)) // the default is the same: CPUCount()
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	stop := progressBar(p)
	pids, err := pool.Map(ctx, p, work, make([]int, 4*n), pool.Chunk(1))
	stop()
	if err != nil {
		log.Fatal(err)
	}
	seen := map[int]int{}
	for _, pid := range pids {
		seen[pid]++
	}
	fmt.Printf("%d CPUs, %d workers, %d tasks, served by %d processes\n", n, p.Workers(), len(pids), len(seen))
	s := p.Stats()
	fmt.Printf("done %d, failed %d, restarts %d\n", s.Done, s.Failed, s.Restarts)
}

// progressBar draws the pool's progress on stderr, a line redrawn in place
// (Python users reach for tqdm here), until stop is called.
func progressBar(p *pool.Pool) (stop func()) {
	draw := func(s pool.Stats, end string) {
		const width = 24
		n := 0
		if s.Submitted > 0 {
			n = int(width * s.Finished / s.Submitted)
		}
		fmt.Fprintf(os.Stderr, "\r[%s%s] %-50s%s", strings.Repeat("#", n), strings.Repeat(".", width-n), s, end)
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		updates := p.Progress() // the latest snapshot, at least every ProgressInterval
		for {
			select {
			case s := <-updates:
				draw(s, "")
			case <-done:
				draw(p.Stats(), "\n")
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}
