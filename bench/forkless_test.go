//go:build linux

package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// queueArg tells a producer child which queue to fill and when to start.
type queueArg struct {
	Queue, Ready, Go shm.Handle
	Size, Count      int64
}

// queueProducer says it is ready, waits for the go event, then puts Count
// messages of Size bytes on the queue.
var queueProducer = spawn.Register("bench.queueProducer", func(ctx context.Context, a queueArg) (struct{}, error) {
	q, err := queue.Open(a.Queue)
	if err != nil {
		return struct{}{}, err
	}
	ready, err := fsync.OpenWaitGroup(a.Ready)
	if err != nil {
		return struct{}{}, err
	}
	start, err := fsync.OpenEvent(a.Go)
	if err != nil {
		return struct{}{}, err
	}
	ready.Done()
	if err := start.WaitContext(ctx); err != nil {
		return struct{}{}, err
	}
	msg := make([]byte, a.Size)
	for i := range a.Count {
		msg[0] = byte(i)
		if err := q.Put(ctx, msg); err != nil {
			return struct{}{}, fmt.Errorf("put message %d: %w", i, err)
		}
	}
	return struct{}{}, nil
})

// queueConfig is the ring a user would choose for a message size: the
// default 1 MiB of data for small messages, and room for several 1 MiB
// messages inside the ring (a message over half the ring would travel in
// a spill region of its own instead).
func queueConfig(size int) queue.Config {
	if size > 64<<10 {
		return queue.Config{Bytes: 8 * size}
	}
	return queue.Config{}
}

// streamForkless is BenchmarkStream's forkless side: producer processes
// put on one queue.Queue in shared memory, pairs goroutines of this process
// get from it, exactly as the pipe and socket rivals are laid out.
func streamForkless(b *testing.B, size, pairs int) time.Duration {
	return streamForklessPC(b, size, pairs, pairs)
}

// streamForklessPC is streamForkless with producers producer processes and
// consumers consuming goroutines.
func streamForklessPC(b *testing.B, size, producers, consumers int) time.Duration {
	ctx := context.Background()
	cfg := queueConfig(size)
	r, err := shm.New(int64(max(cfg.Bytes, 1<<20)) + 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	q, err := queue.New(r, cfg)
	if err != nil {
		b.Fatal(err)
	}
	start, err := fsync.NewEvent(r)
	if err != nil {
		b.Fatal(err)
	}
	ready, err := fsync.NewWaitGroup(r)
	if err != nil {
		b.Fatal(err)
	}
	ready.Add(producers)
	var prods []*spawn.Process[struct{}]
	for i := range producers {
		arg := queueArg{q.Handle(), ready.Handle(), start.Handle(), int64(size), int64(share(b.N, producers, i))}
		p, err := queueProducer.Start(ctx, arg, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Kill()
		prods = append(prods, p)
	}
	// Process start-up is not timed: every producer has attached and
	// waits for the go event before the clock starts.
	if err := ready.WaitContext(ctx); err != nil {
		b.Fatal(err)
	}
	getCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got atomic.Int64
	var bad atomic.Value
	done := make(chan struct{})
	var once sync.Once
	var cons sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	start.Set()
	for range consumers {
		cons.Go(func() {
			buf := make([]byte, 0, size)
			for {
				var err error
				buf, err = q.AppendGet(getCtx, buf[:0])
				if err != nil {
					if getCtx.Err() == nil {
						bad.Store(err)
						once.Do(func() { close(done) })
					}
					return
				}
				if len(buf) != size {
					bad.Store(fmt.Errorf("got a message of %d bytes, want %d", len(buf), size))
				}
				if got.Add(1) == int64(b.N) {
					once.Do(func() { close(done) })
					return
				}
			}
		})
	}
	<-done
	elapsed := time.Since(t0)
	b.StopTimer()
	cancel() // wakes the other consumer
	cons.Wait()
	for _, p := range prods {
		if _, err := p.Wait(ctx); err != nil {
			b.Errorf("producer: %v", err)
		}
	}
	if err, _ := bad.Load().(error); err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// pipeEcho sends back every message it receives on its end of a queue.Pipe,
// until the pipe closes.
var pipeEcho = spawn.Register("bench.pipeEcho", func(ctx context.Context, h queue.PipeHandle) (struct{}, error) {
	end, err := queue.OpenPipe(h)
	if err != nil {
		return struct{}{}, err
	}
	var buf []byte
	for {
		if buf, err = end.AppendRecv(ctx, buf[:0]); err != nil {
			return struct{}{}, nil // closed by the parent
		}
		if err := end.Send(ctx, buf); err != nil {
			return struct{}{}, err
		}
	}
})

// pingPongForkless is BenchmarkPingPong's forkless side: a duplex
// queue.Pipe to an echoing child process.
func pingPongForkless(b *testing.B) {
	ctx := context.Background()
	r, err := shm.New(4 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	mine, theirs, err := queue.NewPipe(r, queue.Config{}, true)
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeEcho.Start(ctx, theirs.Handle(), spawn.Share(r))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	buf := make([]byte, pingSize)
	var failed error
	roundTrip := func() {
		if failed != nil {
			return
		}
		if err := mine.Send(ctx, buf); err != nil {
			failed = err
			return
		}
		if buf, err = mine.AppendRecv(ctx, buf[:0]); err != nil {
			failed = err
		}
	}
	roundTrip() // the child is up and echoing before the clock starts
	roundTrips(b, roundTrip)
	mine.Close()
	if _, err := p.Wait(ctx); err != nil {
		b.Errorf("echo child: %v", err)
	}
	if failed != nil {
		b.Fatal(failed)
	}
}
