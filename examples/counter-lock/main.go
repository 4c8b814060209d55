// Command counter-lock is the tutorial's shared counter: five processes
// each add 1 to a shared Value 1 000 000 times, under a shared lock, and the
// total is exactly 5 000 000. Python:
//
//	def add(counter):
//	    for _ in range(10000):
//	        with counter.get_lock():
//	            counter.value += 1
//
//	counter = multiprocessing.Value('i', 0)
//	procs = [Process(target=add, args=(counter,)) for _ in range(5)]
//
// It then runs the same without the lock, which loses updates: a Barrier
// starts the five together, so that they really overlap on the CPUs, and
// each increment is a read and a write back, as Python's
// counter.value += 1 is. The value, the lock and the barrier travel as
// fields of the argument; their region is shared for us.
//
//	go run ./examples/counter-lock
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

const (
	procs = 5
	adds  = 1_000_000
)

type counter struct {
	Value  *shm.Value[int64]
	Lock   *fsync.Mutex   // guards Value
	Go     *fsync.Barrier // the five and the parent: passed once all have started
	Locked bool
}

var add = spawn.Register("main.add", func(ctx context.Context, c counter) (struct{}, error) {
	if _, err := c.Go.WaitContext(ctx); err != nil { // start together
		return struct{}{}, err
	}
	for range adds {
		if c.Locked {
			if err := c.Lock.Lock(); err != nil {
				return struct{}{}, err
			}
		}
		x, _ := c.Value.Load() // read, then write back: without the lock, another
		c.Value.Store(x + 1)   // process's increment between the two is lost
		if c.Locked {
			c.Lock.Unlock()
		}
	}
	return struct{}{}, nil
})

func run(ctx context.Context, region *shm.Region, locked bool) (int64, time.Duration) {
	v, err := shm.NewValue[int64](region)
	if err != nil {
		log.Fatal(err)
	}
	lock, err := fsync.NewMutex(region)
	if err != nil {
		log.Fatal(err)
	}
	start, err := fsync.NewBarrier(region, procs+1)
	if err != nil {
		log.Fatal(err)
	}
	var ps []*spawn.Process[struct{}]
	for range procs {
		p, err := add.Start(ctx, counter{Value: v, Lock: lock, Go: start, Locked: locked})
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	if _, err := start.WaitContext(ctx); err != nil {
		log.Fatal(err)
	}
	began := time.Now()
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			log.Fatal(err)
		}
	}
	total, err := v.Load()
	if err != nil {
		log.Fatal(err)
	}
	return total, time.Since(began)
}

func main() {
	spawn.Main()

	region, err := shm.New(1 << 12)
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	ctx := context.Background()
	total, took := run(ctx, region, true)
	fmt.Printf("with the lock:    %d processes × %d adds = %d (want %d), %v\n", procs, adds, total, procs*adds, took.Round(time.Millisecond))
	total, took = run(ctx, region, false)
	fmt.Printf("without the lock: %d processes × %d adds = %d (updates lost: %d), %v\n", procs, adds, total, procs*adds-total, took.Round(time.Millisecond))
}
