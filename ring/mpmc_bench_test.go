package ring_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// benchMPMCProduce waits for the go word (at 128 of Flags), then pushes
// 0..N-1 in batches of Batch (one by one when Batch <= 1).
var benchMPMCProduce = spawn.Register("ring.benchMPMCProduce", func(ctx context.Context, a benchArg) (int64, error) {
	q, err := ring.OpenMPMC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	flags, err := shm.BindHandle(a.Flags, shm.KindBytes)
	if err != nil {
		return 0, err
	}
	flags.Uint32(0).Add(1)
	for flags.Uint32(128).Load() == 0 {
		time.Sleep(50 * time.Microsecond)
	}
	buf := make([]uint64, max(a.Batch, 1))
	for i := int64(0); i < a.N; {
		k := min(int64(len(buf)), a.N-i)
		for j := range k {
			buf[j] = uint64(i + j)
		}
		if _, err := q.PushAll(ctx, buf[:k]); err != nil {
			return i, err
		}
		i += k
	}
	return a.N, nil
})

// benchMPMCConsume pops until the ring is closed and drained and returns
// the sum; it counts itself ready (word 0) and done (word 64).
var benchMPMCConsume = spawn.Register("ring.benchMPMCConsume", func(ctx context.Context, a benchArg) (uint64, error) {
	q, err := ring.OpenMPMC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	flags, err := shm.BindHandle(a.Flags, shm.KindBytes)
	if err != nil {
		return 0, err
	}
	flags.Uint32(0).Add(1)
	buf := make([]uint64, max(a.Batch, 1))
	var sum uint64
	for {
		n, err := q.PopSome(ctx, buf)
		if errors.Is(err, ring.ErrClosed) {
			flags.Uint32(64).Add(1)
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
		for _, v := range buf[:n] {
			sum += v
		}
	}
})

// BenchmarkSlotsMPMC2P2C: two producer processes and two consumer
// processes share one MPMC[uint64] ring (b.N items in all).
func BenchmarkSlotsMPMC2P2C(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("impl=mpmc/batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(8)
			r, err := shm.New(8 << 20)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			q, err := ring.NewMPMC[uint64](r, 4096)
			if err != nil {
				b.Fatal(err)
			}
			fl := benchFlags(b, r)
			ctx := context.Background()
			per := int64(b.N / 2)
			arg := benchArg{Ring: q.Handle(), Flags: fl.Handle(), N: per, Batch: int32(batch)}
			var prods []*spawn.Process[int64]
			var cons []*spawn.Process[uint64]
			for range 2 {
				c, err := benchMPMCConsume.Start(ctx, arg, spawn.Share(r))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Kill()
				cons = append(cons, c)
				p, err := benchMPMCProduce.Start(ctx, arg, spawn.Share(r))
				if err != nil {
					b.Fatal(err)
				}
				defer p.Kill()
				prods = append(prods, p)
			}
			for fl.Uint32(0).Load() < 4 {
				time.Sleep(100 * time.Microsecond)
			}
			b.ResetTimer()
			start := time.Now()
			fl.Uint32(128).Store(1)
			for _, p := range prods {
				if _, err := p.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			q.Close()
			for fl.Uint32(64).Load() < 2 {
				time.Sleep(10 * time.Microsecond)
			}
			el := time.Since(start)
			b.StopTimer()
			var sum uint64
			for _, c := range cons {
				s, err := c.Wait(ctx)
				if err != nil {
					b.Fatal(err)
				}
				sum += s
			}
			if want := 2 * (uint64(per) * uint64(per-1) / 2); sum != want {
				b.Fatalf("sum %d, want %d", sum, want)
			}
			b.ReportMetric(float64(2*per)/el.Seconds(), "items/s")
		})
	}
	b.Run("impl=chan/batch=1", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(8)
		ch := make(chan uint64, 4096)
		per := b.N / 2
		sums := make(chan uint64, 2)
		prodDone := make(chan struct{}, 2)
		for range 2 {
			go func() {
				var s uint64
				for v := range ch {
					s += v
				}
				sums <- s
			}()
		}
		b.ResetTimer()
		start := time.Now()
		for range 2 {
			go func() {
				for i := range per {
					ch <- uint64(i)
				}
				prodDone <- struct{}{}
			}()
		}
		<-prodDone
		<-prodDone
		close(ch)
		sum := <-sums + <-sums
		el := time.Since(start)
		b.StopTimer()
		if want := 2 * (uint64(per) * uint64(max(per, 1)-1) / 2); sum != want {
			b.Fatalf("sum %d, want %d", sum, want)
		}
		b.ReportMetric(float64(2*per)/el.Seconds(), "items/s")
	})
}
