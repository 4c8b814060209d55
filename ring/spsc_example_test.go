package ring_test

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
)

// An SPSC ring of fixed-size values. Another process would bind the same
// ring with ring.OpenSPSC[Point](q.Handle()) (see the cross-process tests).
func ExampleSPSC() {
	type Point struct{ X, Y int32 }
	r, err := shm.New(1 << 20)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	q, err := ring.NewSPSC[Point](r, 1024)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	q.Push(ctx, Point{1, 2})
	q.PushBatch([]Point{{3, 4}, {5, 6}}) // one publication for the batch
	q.Close()                            // the consumer drains, then gets ErrClosed

	buf := make([]Point, 8)
	for {
		n, err := q.PopSome(ctx, buf)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(buf[:n])
	}
	// Output:
	// [{1 2} {3 4} {5 6}]
	// pop: ring closed
}

// An MPMC ring shared by any number of producers and consumers.
func ExampleMPMC() {
	r, err := shm.New(1 << 20)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	q, err := ring.NewMPMC[uint64](r, 100) // rounded up to 128 slots
	if err != nil {
		panic(err)
	}
	for i := range uint64(3) {
		q.TryPush(i * 10)
	}
	v, _ := q.TryPop()
	fmt.Println(v, q.Len(), q.Cap())
	// Output: 0 2 128
}
