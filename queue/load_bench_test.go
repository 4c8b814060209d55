package queue_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/forkless-go/forkless/spawn"
)

// qBusy burns a CPU until it is killed: the load of the /load=busy
// benchmark variants.
var qBusy = spawn.Register("queue.qBusy", func(ctx context.Context, _ struct{}) (struct{}, error) {
	for n := 0; ctx.Err() == nil; n++ {
		for i := 0; i < 1<<20; i++ {
			n ^= i
		}
	}
	return struct{}{}, nil
})

// qBusyLoad runs bench with two busy-loop processes per core started
// before it and killed after it: a loaded machine, where a waiter's peer
// is often not running.
func qBusyLoad(b *testing.B, bench func(*testing.B)) {
	var busy []*spawn.Process[struct{}]
	defer func() {
		for _, p := range busy {
			p.Kill()
			p.Wait(context.Background())
		}
	}()
	for range 2 * runtime.NumCPU() {
		p, err := qBusy.Start(context.Background(), struct{}{}, spawn.Env("GOMAXPROCS=1"))
		if err != nil {
			b.Fatal(err)
		}
		busy = append(busy, p)
	}
	bench(b)
}
