//go:build linux

package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sizes are the message sizes of the one-way workloads.
var sizes = []int{8, 64, 4 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkStream moves b.N fixed-size messages one way: from 1 producer to
// 1 consumer, or from 2 producers to 2 consumers sharing one channel, pipe
// or socket. Names: Stream/impl=forkless|chan|pipe|unix/size=8B|64B|4KiB|1MiB/pairs=1|2.
func BenchmarkStream(b *testing.B) {
	for _, impl := range []string{"forkless", "chan", "pipe", "unix"} {
		for _, size := range sizes {
			for _, pairs := range []int{1, 2} {
				name := fmt.Sprintf("impl=%s/size=%s/pairs=%d", impl, sizeName(size), pairs)
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ReportAllocs()
					var elapsed time.Duration
					switch impl {
					case "forkless":
						elapsed = streamForkless(b, size, pairs)
					case "chan":
						elapsed = streamChan(b, size, pairs)
					case "pipe":
						elapsed = streamPipe(b, size, pairs)
					case "unix":
						elapsed = streamUnix(b, size, pairs)
					}
					reportRate(b, elapsed)
				})
			}
		}
	}
}

// reportRate reports msgs/s and ns/msg for b.N messages moved in elapsed.
func reportRate(b *testing.B, elapsed time.Duration) {
	if elapsed <= 0 {
		return
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/msg")
}

// share splits n messages between k producers.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// streamChan is the in-process yardstick: goroutines and a buffered channel
// of fixed-size arrays, which the channel copies in and copies out, as a
// ring copies a message into and out of shared memory.
func streamChan(b *testing.B, size, pairs int) time.Duration {
	switch size {
	case 8:
		return chanArrays[[8]byte](b, pairs)
	case 64:
		return chanArrays[[64]byte](b, pairs)
	case 4 << 10:
		return chanArrays[[4 << 10]byte](b, pairs)
	}
	return chanBuffers(b, size, pairs)
}

// chanCap is the buffered channels' capacity: deep enough that producer and
// consumer rarely meet, like a ring of a few hundred slots.
const chanCap = 1024

func chanArrays[T any](b *testing.B, pairs int) time.Duration {
	ch := make(chan T, chanCap)
	var got atomic.Int64
	var prod, cons sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range pairs {
		prod.Go(func() {
			var msg T
			for range share(b.N, pairs, i) {
				ch <- msg
			}
		})
		cons.Go(func() {
			var sink T
			for msg := range ch {
				sink = msg
				got.Add(1)
			}
			_ = sink
		})
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if got.Load() != int64(b.N) {
		b.Fatalf("received %d messages, sent %d", got.Load(), b.N)
	}
	return elapsed
}

// chanBuffers carries messages too large for a channel element (64 KiB is
// the limit): the producer copies each message into a buffer from a free
// list, the consumer copies it out and returns the buffer.
func chanBuffers(b *testing.B, size, pairs int) time.Duration {
	free := make(chan []byte, 8)
	for range cap(free) {
		free <- make([]byte, size)
	}
	full := make(chan []byte, cap(free))
	var got atomic.Int64
	var prod, cons sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range pairs {
		prod.Go(func() {
			msg := make([]byte, size)
			for range share(b.N, pairs, i) {
				buf := <-free
				copy(buf, msg)
				full <- buf
			}
		})
		cons.Go(func() {
			out := make([]byte, size)
			for buf := range full {
				copy(out, buf)
				free <- buf
				got.Add(1)
			}
		})
	}
	prod.Wait()
	close(full)
	cons.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if got.Load() != int64(b.N) {
		b.Fatalf("received %d messages, sent %d", got.Load(), b.N)
	}
	return elapsed
}

// pipeBuf is PIPE_BUF on Linux: writes up to this size are atomic, so two
// writers on one pipe never interleave inside a message.
const pipeBuf = 4096

func streamPipe(b *testing.B, size, pairs int) time.Duration {
	if pairs > 1 && size > pipeBuf {
		b.Skipf("two writers on one pipe interleave messages larger than PIPE_BUF (%d bytes)", pipeBuf)
	}
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	return streamProcesses(b, size, pairs, r, w)
}

func streamUnix(b *testing.B, size, pairs int) time.Duration {
	typ := syscall.SOCK_STREAM
	if pairs > 1 {
		// Two readers on one stream socket could split a message; a
		// SEQPACKET socket keeps each write whole.
		if size > pipeBuf {
			b.Skip("a SOCK_SEQPACKET message must fit the socket buffer; two writers on a stream socket would interleave")
		}
		typ = syscall.SOCK_SEQPACKET
	}
	r, w := socketpair(b, typ)
	return streamProcesses(b, size, pairs, r, w)
}

// streamProcesses starts pairs producer processes writing to w and reads
// b.N messages from r in pairs goroutines. It times from the go byte to
// the last message read.
func streamProcesses(b *testing.B, size, pairs int, r, w *os.File) time.Duration {
	defer r.Close()
	var gos []*os.File
	var cmds []*exec.Cmd
	for i := range pairs {
		goR, goW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		readyR, readyW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, startChild(b, roleProduce, size, share(b.N, pairs, i), goR, w, readyW))
		goR.Close()
		readyW.Close()
		gos = append(gos, goW)
		// Process start-up is not timed: the child is up and waits for
		// the go byte before the clock starts.
		if _, err := io.ReadFull(readyR, make([]byte, 1)); err != nil {
			b.Fatalf("producer never got ready: %v", err)
		}
		readyR.Close()
	}
	w.Close() // the children hold the write end now: EOF once they exit

	var got atomic.Int64
	var bad atomic.Value
	done := make(chan struct{})
	var cons sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for _, g := range gos {
		if _, err := g.Write([]byte{1}); err != nil {
			b.Fatal(err)
		}
		g.Close()
	}
	for range pairs {
		cons.Go(func() {
			buf := make([]byte, size)
			for {
				n, err := io.ReadFull(r, buf)
				if err != nil {
					if err != io.EOF && got.Load() < int64(b.N) {
						bad.Store(fmt.Errorf("read after %d messages (%d bytes of the next): %w", got.Load(), n, err))
						close(done)
					}
					return
				}
				if got.Add(1) == int64(b.N) {
					close(done)
					return
				}
			}
		})
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	r.Close() // wakes the other consumer
	cons.Wait()
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			b.Errorf("producer: %v", err)
		}
	}
	if err, _ := bad.Load().(error); err != nil {
		b.Fatal(err)
	}
	return elapsed
}
