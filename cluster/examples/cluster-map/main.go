// Command cluster-map maps a function over 100k numbers on a cluster of
// forkless nodes through NATS JetStream.
//
// With no flags it needs nothing installed: it starts a NATS server inside
// itself (storage in a temporary directory) and two node processes on this
// machine, maps, prints, and stops them all:
//
//	go -C cluster run ./examples/cluster-map
//
// On real machines, with a nats-server running with JetStream (nats-server -js):
//
//	cluster-map -nats nats://hub:4222 -serve      # on each node machine
//	cluster-map -nats nats://hub:4222             # the caller, anywhere
//
// Every machine runs the same binary: functions travel by their registered
// names.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/forkless-go/forkless/cluster"
	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// collatz counts the steps of n's Collatz sequence down to 1.
var collatz = spawn.Register("main.collatz", func(ctx context.Context, n int) (int, error) {
	steps := 0
	for n > 1 {
		if n%2 == 0 {
			n /= 2
		} else {
			n = 3*n + 1
		}
		steps++
	}
	return steps, nil
})

func main() {
	spawn.Main()
	url := flag.String("nats", "", "NATS server URL (default: start one in this process, and local nodes)")
	serve := flag.Bool("serve", false, "run as a node of the cluster at -nats until interrupted")
	n := flag.Int("n", 100_000, "items to map")
	nodes := flag.Int("nodes", 2, "local node processes to start when -nats is not given")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *serve {
		if *url == "" {
			log.Fatal("-serve needs -nats")
		}
		if err := cluster.Serve(ctx, cluster.URL(*url)); err != nil {
			log.Fatal(err)
		}
		return
	}
	opts := []cluster.Option{cluster.WaitNodes(1)}
	if *url != "" {
		opts = append(opts, cluster.URL(*url))
	} else {
		opts = append(opts, cluster.LocalNodes(*nodes, cluster.Workers(1)))
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	ex, err := cluster.Dial(dctx, opts...)
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close(context.Background())
	fmt.Printf("%d nodes: %v\n", len(ex.Nodes()), nodeNames(ex))
	in := make([]int, *n)
	for i := range in {
		in[i] = i + 1
	}
	t0 := time.Now()
	steps, err := pool.Map(ctx, ex, collatz, in)
	var me *pool.MapError
	if err != nil && !errors.As(err, &me) {
		log.Fatal(err)
	}
	best := 0
	for i, s := range steps {
		if s > steps[best] {
			best = i
		}
	}
	fmt.Printf("mapped %d items in %v: longest chain below %d starts at %d (%d steps)\n",
		len(in), time.Since(t0).Round(time.Millisecond), *n+1, in[best], steps[best])
	st := ex.Stats()
	fmt.Printf("stats: done %d, failed %d, retried %d\n", st.Done, st.Failed, st.Retried)
}

func nodeNames(ex *cluster.Executor) []string {
	var out []string
	for _, n := range ex.Nodes() {
		out = append(out, n.Name)
	}
	return out
}
