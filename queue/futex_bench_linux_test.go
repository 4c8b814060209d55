//go:build linux

package queue_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// qFutexWords: ping and pong counters, each a futex word.
type qFutexWords = [2]atomic.Uint32

// qFutexEcho answers every ping with a pong through bare futexes (no spin,
// no event count): the floor of a sleeping hand-off on this machine.
var qFutexEcho = spawn.Register("queue.qFutexEcho", func(ctx context.Context, h shm.Handle) (struct{}, error) {
	v, err := shm.OpenValue[qFutexWords](h)
	if err != nil {
		return struct{}{}, err
	}
	w := v.Ptr()
	for seen := uint32(0); ; {
		for w[0].Load() == seen {
			futex.Wait(&w[0], seen, time.Second) //nolint:errcheck // re-checked
		}
		seen = w[0].Load()
		if seen == ^uint32(0) {
			return struct{}{}, nil
		}
		w[1].Store(seen)
		futex.Wake(&w[1], 1) //nolint:errcheck // best effort
	}
})

// benchPipeFutex: the round trip over two bare futex words, a baseline
// for the wait path's own cost (what forkless adds to a sleeping hand-off).
var benchPipeFutex = func(b *testing.B) {
	ctx := context.Background()
	r, err := shm.New(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	v, err := shm.NewValue[qFutexWords](r)
	if err != nil {
		b.Fatal(err)
	}
	p, err := qFutexEcho.Start(ctx, v.Handle(), spawn.Share(r))
	if err != nil {
		b.Fatal(err)
	}
	w := v.Ptr()
	round := func(i uint32) {
		w[0].Store(i)
		futex.Wake(&w[0], 1) //nolint:errcheck // best effort
		for w[1].Load() != i {
			futex.Wait(&w[1], w[1].Load(), time.Second) //nolint:errcheck // re-checked
		}
	}
	round(1)
	rtt := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		round(uint32(i) + 2)
		rtt = append(rtt, time.Since(t0))
	}
	b.StopTimer()
	w[0].Store(^uint32(0))
	futex.Wake(&w[0], 1) //nolint:errcheck // best effort
	p.Wait(ctx)
	qReportLatency(b, rtt)
}
