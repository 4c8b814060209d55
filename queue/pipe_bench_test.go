package queue_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// qFifoEcho echoes fixed-size messages from one fifo to another until EOF.
var qFifoEcho = spawn.Register("queue.qFifoEcho", func(ctx context.Context, a qBenchArg) (struct{}, error) {
	dir := qPathString(a.Path)
	in, err := os.Open(filepath.Join(dir, "ping"))
	if err != nil {
		return struct{}{}, err
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(dir, "pong"), os.O_WRONLY, 0)
	if err != nil {
		return struct{}{}, err
	}
	defer out.Close()
	buf := make([]byte, a.Size)
	for {
		if _, err := io.ReadFull(in, buf); err != nil {
			if err == io.EOF {
				return struct{}{}, nil
			}
			return struct{}{}, err
		}
		if _, err := out.Write(buf); err != nil {
			return struct{}{}, err
		}
	}
})

// qReportLatency reports p50 and p99 of the round trips.
func qReportLatency(b *testing.B, rtt []time.Duration) {
	if len(rtt) == 0 {
		return
	}
	slices.Sort(rtt)
	b.ReportMetric(float64(rtt[len(rtt)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(rtt[min(len(rtt)-1, len(rtt)*99/100)].Nanoseconds()), "p99-ns")
}

// BenchmarkPipePingPong: a 64-byte message to a child and back, one at a
// time; ns/op is the round trip.
func BenchmarkPipePingPong(b *testing.B) {
	b.Run("impl=forkless/size=64", benchPipeForkless)
	b.Run("impl=ospipe/size=64", benchPipeFifo)
	b.Run("impl=pythonPipe/size=64", func(b *testing.B) {
		n := min(max(b.N, 2000), 20000) // self-timed: at least 2000 round trips whatever b.N is
		ns := pythonFigure(b, "ring_pipe_pingpong.py", "64", strconv.Itoa(n))
		b.ReportMetric(ns, "ns/roundtrip")
	})
	// Under load: busy processes on every core (qBusyLoad) while the round
	// trips run, forkless and its rival in the same run.
	b.Run("impl=forkless/size=64/load=busy", func(b *testing.B) { qBusyLoad(b, benchPipeForkless) })
	b.Run("impl=ospipe/size=64/load=busy", func(b *testing.B) { qBusyLoad(b, benchPipeFifo) })
	if benchPipeFutex != nil {
		b.Run("impl=futex/size=64", benchPipeFutex)
		b.Run("impl=futex/size=64/load=busy", func(b *testing.B) { qBusyLoad(b, benchPipeFutex) })
	}
}

// echoPipe starts qEcho on a new Pipe of 64 KiB each way and returns this
// process's end, warmed up (the child runs and its end is open), and a
// func that closes the end, waits for the child and frees the region.
func echoPipe(b *testing.B) (*queue.Pipe, func()) {
	ctx := context.Background()
	r, err := shm.New(4 << 20)
	if err != nil {
		b.Fatal(err)
	}
	a, c, err := queue.NewPipe(r, queue.Config{Bytes: 64 << 10}, true)
	if err != nil {
		r.Close()
		b.Fatal(err)
	}
	p, err := qEcho.Start(ctx, c.Handle(), spawn.Share(r))
	if err != nil {
		r.Close()
		b.Fatal(err)
	}
	a.Send(ctx, make([]byte, 64))
	a.AppendRecv(ctx, nil)
	return a, func() {
		a.Close()
		p.Wait(ctx)
		r.Close()
	}
}

// benchPipeForkless: the forkless Pipe round trip.
func benchPipeForkless(b *testing.B) {
	ctx := context.Background()
	a, done := echoPipe(b)
	defer done()
	msg := make([]byte, 64)
	buf := make([]byte, 0, 64)
	var err error
	rtt := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := a.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if buf, err = a.AppendRecv(ctx, buf[:0]); err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(t0))
	}
	b.StopTimer()
	qReportLatency(b, rtt)
}

// benchPipeFifo: the same round trip over a pair of fifos (os.Pipe's kind).
func benchPipeFifo(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	for _, n := range []string{"ping", "pong"} {
		if err := mkfifo(filepath.Join(dir, n)); err != nil {
			b.Skip("no fifo:", err)
		}
	}
	p, err := qFifoEcho.Start(ctx, qBenchArg{Size: 64, Path: qPath(dir)})
	if err != nil {
		b.Fatal(err)
	}
	out, err := os.OpenFile(filepath.Join(dir, "ping"), os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	in, err := os.Open(filepath.Join(dir, "pong"))
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	rtt := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := out.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(in, msg); err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(t0))
	}
	b.StopTimer()
	out.Close()
	in.Close()
	p.Wait(ctx)
	qReportLatency(b, rtt)
}

// BenchmarkQueueBandwidth: 1P1C between processes, large messages:
// forkless Queue (an 8 MiB ring, so 1 MiB messages travel inline) against
// a unix socket.
func BenchmarkQueueBandwidth(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		s := strconv.Itoa(size)
		b.Run("impl=forkless/size="+s, func(b *testing.B) { benchQueueForklessRing(b, 1, 1, size, 8<<20) })
		b.Run("impl=forkless-take/size="+s, func(b *testing.B) { benchQueueForklessMode(b, 1, 1, size, 8<<20, true) })
		b.Run("impl=unixsocket/size="+s, func(b *testing.B) { benchStream(b, "unixsocket", 1, size) })
	}
}

// BenchmarkPipeStream: 64-byte messages streamed both ways through a
// Pipe: this process sends b.N messages while a goroutine receives the
// child's (qEcho) echoes of them. Each direction is 1P1C with the sender
// running ahead, so senders wait for room.
func BenchmarkPipeStream(b *testing.B) {
	b.Run("impl=forkless/size=64", func(b *testing.B) {
		ctx := context.Background()
		a, done := echoPipe(b)
		defer done()
		msg := make([]byte, 64)
		b.SetBytes(64)
		b.ReportAllocs()
		b.ResetTimer()
		got := make(chan error, 1)
		go func() {
			buf := make([]byte, 0, 64)
			var err error
			for range b.N {
				if buf, err = a.AppendRecv(ctx, buf[:0]); err != nil {
					break
				}
			}
			got <- err
		}()
		for range b.N {
			if err := a.Send(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-got; err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
