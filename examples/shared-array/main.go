// Command shared-array starts worker processes that share one Array with
// their parent, zero-copy: each worker fills its own part of the array and
// sums it, and the parent checks every element and prints what each worker
// did and how long it took.
//
//	go run ./examples/shared-array -workers 4 -n 50000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// job is what a worker gets: where the shared data is and which part is its
// own. It is fixed-size and pointer-free, so it travels as raw bytes.
type job struct {
	Data       shm.Handle // the shared Array[float64]
	Start, End int
}

type report struct {
	Pid    int
	Sum    float64
	Millis float64
}

// fillAndSum runs in a worker process. Register at package scope, so that
// every process of this binary knows it by the same name.
var fillAndSum = spawn.Register("main.fillAndSum", func(ctx context.Context, j job) (report, error) {
	began := time.Now()
	data, err := shm.OpenArray[float64](j.Data)
	if err != nil {
		return report{}, err
	}
	part := data.Slice()[j.Start:j.End] // the parent's memory, not a copy
	var sum float64
	for i := range part {
		x := value(j.Start + i)
		part[i] = x
		sum += x
	}
	return report{Pid: os.Getpid(), Sum: sum, Millis: msSince(began)}, nil
})

// value is the work done per element: a few floating-point functions, enough
// that the work, not the memory traffic, dominates.
func value(i int) float64 {
	x := float64(i)
	return math.Sin(x*1e-3)*math.Exp(-x*1e-9) + math.Sqrt(x)
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func main() {
	spawn.Main() // in a worker, this runs fillAndSum and exits

	workers := flag.Int("workers", 4, "worker processes")
	n := flag.Int("n", 20_000_000, "elements in the shared array")
	flag.Parse()
	if *workers < 1 || *n < *workers {
		log.Fatal("need at least one worker and one element per worker")
	}

	region, err := shm.New(int64(*n) * 8)
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	data, err := shm.NewArray[float64](region, *n)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("parent %d: shared %d float64 (%d MiB) in an anonymous region\n", os.Getpid(), *n, *n*8>>20)

	// First, for comparison, the same work in this one process over the same
	// memory. It writes -value, so the check below sees the workers' values.
	began := time.Now()
	var alone float64
	for i := range data.Slice() {
		x := value(i)
		data.Slice()[i] = -x
		alone += x
	}
	aloneMs := msSince(began)
	fmt.Printf("parent: the work alone in this process took %.1f ms, sum %.6g\n", aloneMs, alone)

	began = time.Now()
	ctx := context.Background()
	var procs []*spawn.Process[report]
	for w := range *workers {
		j := job{Data: data.Handle(), Start: *n * w / *workers, End: *n * (w + 1) / *workers}
		p, err := fillAndSum.Start(ctx, j, spawn.Share(region))
		if err != nil {
			log.Fatal(err)
		}
		procs = append(procs, p)
	}
	var total float64
	for w, p := range procs {
		r, err := p.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("worker %d (pid %d): filled elements [%d, %d) in %.1f ms, partial sum %.6g\n",
			w, r.Pid, *n*w / *workers, *n*(w+1) / *workers, r.Millis, r.Sum)
		total += r.Sum
	}
	parallel := msSince(began)

	// The parent reads what the workers wrote, in place.
	for i, x := range data.Slice() {
		if x != value(i) {
			log.Fatalf("element %d = %v, want %v", i, x, value(i))
		}
	}
	fmt.Printf("parent: all %d elements check out; sum %.6g\n", *n, total)
	fmt.Printf("parent: %d workers took %.1f ms in all, process starts included: %.2fx as fast as one process\n",
		*workers, parallel, aloneMs/parallel)
}
