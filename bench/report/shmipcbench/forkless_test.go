//go:build linux

package shmipcbench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// pipeEcho sends back every message it receives on its end of a
// queue.Pipe, until the pipe closes.
var pipeEcho = spawn.Register("shmipcbench.pipeEcho", func(ctx context.Context, h queue.PipeHandle) (struct{}, error) {
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

// roundTripForkless is BenchmarkShmipcRoundTrip's forkless side: a duplex
// queue.Pipe to an echoing child process.
func roundTripForkless(b *testing.B) {
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
	rt := func() error {
		if err := mine.Send(ctx, buf); err != nil {
			return err
		}
		buf, err = mine.AppendRecv(ctx, buf[:0])
		return err
	}
	if err := rt(); err != nil { // the child is up and echoing before the clock starts
		b.Fatal(err)
	}
	roundTrips(b, rt)
	mine.Close()
	if _, err := p.Wait(ctx); err != nil {
		b.Errorf("echo child: %v", err)
	}
}

// sinkArg tells a consuming child which queue to read, how many messages
// to expect, and which events say it is ready and done.
type sinkArg struct {
	Queue, Ready, Done shm.Handle
	Size, Count        int64
}

// queueSink says it is ready, gets Count messages of Size bytes, and sets
// the done event.
var queueSink = spawn.Register("shmipcbench.queueSink", func(ctx context.Context, a sinkArg) (struct{}, error) {
	q, err := queue.Open(a.Queue)
	if err != nil {
		return struct{}{}, err
	}
	ready, err := fsync.OpenEvent(a.Ready)
	if err != nil {
		return struct{}{}, err
	}
	done, err := fsync.OpenEvent(a.Done)
	if err != nil {
		return struct{}{}, err
	}
	ready.Set()
	buf := make([]byte, 0, a.Size)
	for i := range a.Count {
		if buf, err = q.AppendGet(ctx, buf[:0]); err != nil {
			return struct{}{}, fmt.Errorf("get message %d: %w", i, err)
		}
		if int64(len(buf)) != a.Size {
			return struct{}{}, fmt.Errorf("message %d holds %d bytes, want %d", i, len(buf), a.Size)
		}
	}
	done.Set()
	return struct{}{}, nil
})

// streamForkless is BenchmarkShmipcStream's forkless side: this process
// puts b.N messages on a queue.Queue, a child gets them and says so.
func streamForkless(b *testing.B, size int) time.Duration {
	ctx := context.Background()
	cfg := queue.Config{}
	if size > 64<<10 {
		cfg.Bytes = 8 * size // room for several messages inside the ring
	}
	r, err := shm.New(int64(max(cfg.Bytes, 1<<20)) + 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	q, err := queue.New(r, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ready, err := fsync.NewEvent(r)
	if err != nil {
		b.Fatal(err)
	}
	done, err := fsync.NewEvent(r)
	if err != nil {
		b.Fatal(err)
	}
	p, err := queueSink.Start(ctx, sinkArg{q.Handle(), ready.Handle(), done.Handle(), int64(size), int64(b.N)}, spawn.Share(r))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	if err := ready.WaitContext(ctx); err != nil { // child start-up is not timed
		b.Fatal(err)
	}
	msg := make([]byte, size)
	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		msg[0] = byte(i)
		if err := q.Put(ctx, msg); err != nil {
			b.Fatalf("put message %d: %v", i, err)
		}
	}
	if err := done.WaitContext(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	if _, err := p.Wait(ctx); err != nil {
		b.Errorf("sink child: %v", err)
	}
	return elapsed
}
