package ring_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Benchmarks of the fixed-slot rings between two processes: the parent
// produces, a child (the re-executed test binary) consumes. Baselines in the
// same run: a buffered Go channel between two goroutines of one process.
//
//	go test ./ring -run XXX -bench 'Slots' -count 5

// u64Ring is what the benchmarks need of SPSC[uint64] and MPMC[uint64].
type u64Ring interface {
	Push(ctx context.Context, v uint64) error
	PushAll(ctx context.Context, vs []uint64) (int, error)
	Pop(ctx context.Context) (uint64, error)
	PopSome(ctx context.Context, dst []uint64) (int, error)
	Close() error
	Handle() shm.Handle
}

func openU64(h shm.Handle) (u64Ring, error) {
	if h.Kind == ring.KindSPSC {
		return ring.OpenSPSC[uint64](h)
	}
	return ring.OpenMPMC[uint64](h)
}

func newU64(r *shm.Region, mpmc bool, capacity int) (u64Ring, error) {
	if mpmc {
		return ring.NewMPMC[uint64](r, capacity)
	}
	return ring.NewSPSC[uint64](r, capacity)
}

type benchArg struct {
	Ring  shm.Handle // items to consume
	Back  shm.Handle // ping-pong: the ring to answer on
	Flags shm.Handle // bytes: ready word at 0, done word at 64
	N     int64
	Batch int32
}

// benchConsume pops N items (Batch at a time, or one by one when Batch is
// 1) and returns their sum; it raises the ready flag once bound and the
// done flag when finished, so the parent times only the transfer.
var benchConsume = spawn.Register("ring.benchConsume", func(ctx context.Context, a benchArg) (uint64, error) {
	q, err := openU64(a.Ring)
	if err != nil {
		return 0, err
	}
	flags, err := shm.BindHandle(a.Flags, shm.KindBytes)
	if err != nil {
		return 0, err
	}
	flags.Uint32(0).Store(1)
	var sum uint64
	if a.Batch <= 1 {
		for range a.N {
			v, err := q.Pop(ctx)
			if err != nil {
				return sum, err
			}
			sum += v
		}
	} else {
		buf := make([]uint64, a.Batch)
		for got := int64(0); got < a.N; {
			n, err := q.PopSome(ctx, buf[:min(int64(len(buf)), a.N-got)])
			if err != nil {
				return sum, err
			}
			for _, v := range buf[:n] {
				sum += v
			}
			got += int64(n)
		}
	}
	flags.Uint32(64).Store(1)
	return sum, nil
})

// benchEcho answers every item of Ring on Back, N times.
var benchEcho = spawn.Register("ring.benchEcho", func(ctx context.Context, a benchArg) (int64, error) {
	in, err := openU64(a.Ring)
	if err != nil {
		return 0, err
	}
	out, err := openU64(a.Back)
	if err != nil {
		return 0, err
	}
	flags, err := shm.BindHandle(a.Flags, shm.KindBytes)
	if err != nil {
		return 0, err
	}
	flags.Uint32(0).Store(1)
	for i := range a.N {
		v, err := in.Pop(ctx)
		if err != nil {
			return i, err
		}
		if err := out.Push(ctx, v+1); err != nil {
			return i, err
		}
	}
	return a.N, nil
})

func benchFlags(b *testing.B, r *shm.Region) shm.Block {
	fl, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 192})
	if err != nil {
		b.Fatal(err)
	}
	return fl
}

func waitWord(b *testing.B, fl shm.Block, off int64) {
	deadline := time.Now().Add(60 * time.Second)
	for fl.Uint32(off).Load() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("child never raised its flag")
		}
		runtime.Gosched()
	}
}

// benchCrossProcess pushes b.N items from this process to a consuming child.
func benchCrossProcess(b *testing.B, mpmc bool, capacity int, batch int) {
	b.ReportAllocs()
	b.SetBytes(8)
	r, err := shm.New(64<<20 + int64(capacity)*16)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	q, err := newU64(r, mpmc, capacity)
	if err != nil {
		b.Fatal(err)
	}
	fl := benchFlags(b, r)
	ctx := context.Background()
	p, err := benchConsume.Start(ctx, benchArg{Ring: q.Handle(), Flags: fl.Handle(), N: int64(b.N), Batch: int32(batch)}, spawn.Share(r))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	waitWord(b, fl, 0)
	buf := make([]uint64, batch)
	b.ResetTimer()
	start := time.Now()
	if batch <= 1 {
		for i := range b.N {
			if err := q.Push(ctx, uint64(i)); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		for i := 0; i < b.N; {
			k := min(batch, b.N-i)
			for j := range k {
				buf[j] = uint64(i + j)
			}
			if _, err := q.PushAll(ctx, buf[:k]); err != nil {
				b.Fatal(err)
			}
			i += k
		}
	}
	waitWord(b, fl, 64)
	el := time.Since(start)
	b.StopTimer()
	sum, err := p.Wait(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if want := uint64(b.N) * uint64(b.N-1) / 2; sum != want {
		b.Fatalf("consumer summed %d, want %d", sum, want)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "items/s")
}

// benchChannel is the baseline: the same transfer through a buffered
// channel between two goroutines of this process.
func benchChannel(b *testing.B, capacity int) {
	b.ReportAllocs()
	b.SetBytes(8)
	ch := make(chan uint64, capacity)
	done := make(chan uint64)
	go func() {
		var sum uint64
		for range b.N {
			sum += <-ch
		}
		done <- sum
	}()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		ch <- uint64(i)
	}
	sum := <-done
	el := time.Since(start)
	b.StopTimer()
	if want := uint64(b.N) * uint64(b.N-1) / 2; sum != want {
		b.Fatalf("sum %d, want %d", sum, want)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "items/s")
}

// BenchmarkSlotsThroughput: uint64 items from one process to another.
func BenchmarkSlotsThroughput(b *testing.B) {
	const capacity = 4096
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprintf("impl=spsc/batch=%d", batch), func(b *testing.B) { benchCrossProcess(b, false, capacity, batch) })
		b.Run(fmt.Sprintf("impl=mpmc/batch=%d", batch), func(b *testing.B) { benchCrossProcess(b, true, capacity, batch) })
	}
	// A larger ring rides out the scheduler: on a busy 2-core machine the
	// two processes often do not run at the same moment, and each time
	// slice then moves a whole ring.
	b.Run("impl=spsc/batch=256/cap=65536", func(b *testing.B) { benchCrossProcess(b, false, 65536, 256) })
	b.Run("impl=chan/batch=1", func(b *testing.B) { benchChannel(b, capacity) })
}

// BenchmarkSlotsLatency: ping-pong of one item between two processes over
// two rings (a round trip is two one-way hand-offs); p50/p99 of the round
// trip in ns. Baseline: the same over two channels between goroutines.
func BenchmarkSlotsLatency(b *testing.B) {
	for _, mpmc := range []bool{false, true} {
		name := "impl=spsc"
		if mpmc {
			name = "impl=mpmc"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			r, err := shm.New(1 << 20)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			ping, err := newU64(r, mpmc, 64)
			if err != nil {
				b.Fatal(err)
			}
			pong, err := newU64(r, mpmc, 64)
			if err != nil {
				b.Fatal(err)
			}
			fl := benchFlags(b, r)
			ctx := context.Background()
			p, err := benchEcho.Start(ctx, benchArg{Ring: ping.Handle(), Back: pong.Handle(), Flags: fl.Handle(), N: int64(b.N)}, spawn.Share(r))
			if err != nil {
				b.Fatal(err)
			}
			defer p.Kill()
			waitWord(b, fl, 0)
			rtts := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				if err := ping.Push(ctx, uint64(i)); err != nil {
					b.Fatal(err)
				}
				v, err := pong.Pop(ctx)
				if err != nil || v != uint64(i)+1 {
					b.Fatalf("pong = %d, %v", v, err)
				}
				rtts[i] = time.Since(t0)
			}
			b.StopTimer()
			if _, err := p.Wait(ctx); err != nil {
				b.Fatal(err)
			}
			reportQuantiles(b, rtts)
		})
	}
	b.Run("impl=chan", func(b *testing.B) {
		b.ReportAllocs()
		ping, pong := make(chan uint64, 64), make(chan uint64, 64)
		go func() {
			for range b.N {
				pong <- <-ping + 1
			}
		}()
		rtts := make([]time.Duration, b.N)
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			ping <- uint64(i)
			<-pong
			rtts[i] = time.Since(t0)
		}
		b.StopTimer()
		reportQuantiles(b, rtts)
	})
}

func reportQuantiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-rtt-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-rtt-ns")
}
