package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

type qPoint struct {
	X, Y int64
	Tag  [8]byte
}

type qRecord struct {
	Name  string
	Items []int
}

func TestQueueOfRawAndGob(t *testing.T) {
	r := qRegion(t, 4<<20)
	ctx := qCtx(t)
	pq, err := queue.NewOf[qPoint](r, queue.Config{Bytes: 4096}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(500) { // wraps the ring several times
		if err := pq.Put(ctx, qPoint{X: i, Y: -i, Tag: [8]byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
		p, err := pq.Get(ctx)
		if err != nil || p.X != i || p.Y != -i || p.Tag[0] != byte(i) {
			t.Fatalf("got %+v, %v", p, err)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		pq.Put(ctx, qPoint{X: 1})
		pq.Get(ctx)
	})
	if allocs != 0 {
		t.Errorf("raw QueueOf put+get allocates %v times, want 0", allocs)
	}
	if _, err := queue.OpenOf[int64](pq.Handle(), nil); !errors.Is(err, shm.ErrType) {
		t.Fatalf("OpenQueueOf with another type = %v, want shm.ErrType", err)
	}
	if _, err := queue.OpenOf[qPoint](pq.Handle(), nil); err != nil {
		t.Fatal(err)
	}

	gq, err := queue.NewOf[qRecord](r, queue.Config{Bytes: 4096}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := qRecord{Name: "gopher", Items: []int{1, 2, 3}}
	if err := gq.Put(ctx, in); err != nil {
		t.Fatal(err)
	}
	out, err := gq.Get(ctx)
	if err != nil || out.Name != in.Name || len(out.Items) != 3 || out.Items[2] != 3 {
		t.Fatalf("gob round trip = %+v, %v", out, err)
	}
	if _, err := queue.OpenOf[qPoint](gq.Handle(), nil); !errors.Is(err, shm.ErrType) {
		t.Fatalf("OpenQueueOf[qPoint] of a gob queue = %v, want shm.ErrType", err)
	}
	// An encoding error is Put's error, and nothing is queued.
	bad, err := queue.NewOf[chan int](r, queue.Config{Bytes: 4096}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Put(ctx, make(chan int)); err == nil || bad.Len() != 0 {
		t.Fatalf("Put of an unencodable value = %v, Len %d", err, bad.Len())
	}
}

func TestJoinableQueue(t *testing.T) {
	r := qRegion(t, 4<<20)
	ctx := qCtx(t)
	j, err := queue.NewJoinable(r, queue.Config{Bytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.TaskDone(); !errors.Is(err, queue.ErrTaskDone) {
		t.Fatalf("TaskDone on a fresh queue = %v, want ErrTaskDone", err)
	}
	if err := j.Join(ctx); err != nil {
		t.Fatalf("Join with nothing put = %v", err)
	}
	if _, err := queue.OpenJoinable(j.Handle()); err != nil {
		t.Fatal(err)
	}
	q, _ := queue.New(r, queue.Config{Bytes: 4096})
	if _, err := queue.OpenJoinable(q.Handle()); err == nil {
		t.Fatal("OpenJoinableQueue of a plain queue succeeded")
	}
	p, err := qJoinWorker.Start(ctx, j.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := j.Put(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if j.Unfinished() != 0 || j.Len() != 0 {
		t.Fatalf("after Join: %d unfinished, %d queued", j.Unfinished(), j.Len())
	}
	j.Close()
	if n, err := p.Wait(ctx); err != nil || n != 100 {
		t.Fatalf("worker did %d tasks, %v", n, err)
	}
}

var qJoinWorker = spawn.Register("queue.qJoinWorker", func(ctx context.Context, h shm.Handle) (int, error) {
	j, err := queue.OpenJoinable(h)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, err := j.Get(ctx)
		if errors.Is(err, queue.ErrClosed) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		time.Sleep(100 * time.Microsecond)
		n++
		if err := j.TaskDone(); err != nil {
			return n, err
		}
	}
})

// qEcho echoes every message on a pipe end until the pipe closes.
var qEcho = spawn.Register("queue.qEcho", func(ctx context.Context, h queue.PipeHandle) (int, error) {
	p, err := queue.OpenPipe(h)
	if err != nil {
		return 0, err
	}
	n := 0
	var buf []byte
	for {
		m, err := p.AppendRecv(ctx, buf[:0])
		if errors.Is(err, queue.ErrClosed) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		buf = m
		if err := p.Send(ctx, m); err != nil {
			return n, err
		}
		n++
	}
})

func TestPipeDuplexAcrossProcesses(t *testing.T) {
	r := qRegion(t, 8<<20)
	ctx := qCtx(t)
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 1 << 16}, true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := qEcho.Start(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 64, 5000, 40000, 200 << 10} // the last spills (into the default spill area)
	for i, n := range sizes {
		m := qMsgFor(8, uint64(i), n)
		if err := a.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := a.Recv(ctx)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(got), err)
		}
	}
	if ok, err := a.Poll(0); ok || err != nil {
		t.Fatalf("Poll with nothing sent = %v, %v", ok, err)
	}
	// io.ReadWriteCloser: a message read over several Reads.
	if _, err := a.Write([]byte("stream of bytes")); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Poll(5 * time.Second); !ok || err != nil {
		t.Fatalf("Poll after the echo = %v, %v", ok, err)
	}
	buf := make([]byte, 4)
	var got []byte
	for len(got) < 15 {
		n, err := a.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "stream of bytes" {
		t.Fatalf("Read = %q", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Wait(ctx); err != nil || n != len(sizes)+1 {
		t.Fatalf("echo child: %d, %v", n, err)
	}
	if _, err := a.Read(buf); err != io.EOF {
		t.Fatalf("Read after close = %v, want io.EOF", err)
	}
}

func TestPipeOneWay(t *testing.T) {
	r := qRegion(t, 4<<20)
	ctx := qCtx(t)
	rx, tx, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := rx.Send(ctx, []byte("x")); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Send on the receive end = %v", err)
	}
	if _, err := tx.Recv(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Recv on the send end = %v", err)
	}
	tx.Send(ctx, []byte("one"))
	tx.Close()
	if m, err := rx.Recv(ctx); err != nil || string(m) != "one" {
		t.Fatalf("%q, %v", m, err)
	}
	if _, err := rx.Recv(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Recv after close = %v", err)
	}
}

// qPipeSleeper opens its end and waits to be killed.
var qPipeSleeper = spawn.Register("queue.qPipeSleeper", func(ctx context.Context, h queue.PipeHandle) (struct{}, error) {
	p, err := queue.OpenPipe(h)
	if err != nil {
		return struct{}{}, err
	}
	p.Send(ctx, []byte("hello"))
	<-ctx.Done()
	return struct{}{}, nil
})

// TestPipePeerDies: Python's Recv gets EOFError when the other process
// dies; so does ours (ErrPeerDied, io.EOF for Read), within the recovery
// bound, after the messages it sent.
func TestPipePeerDies(t *testing.T) {
	r := qRegion(t, 4<<20)
	ctx := qCtx(t)
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := qPipeSleeper.Start(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := a.Recv(ctx); err != nil || string(m) != "hello" {
		t.Fatalf("%q, %v", m, err)
	}
	killed := time.Now()
	qKill(t, p)
	_, err = a.Recv(ctx)
	if !errors.Is(err, queue.ErrPeerDied) || !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Recv from a dead peer = %v, want ErrPeerDied", err)
	}
	if d := time.Since(killed); d > 2*time.Second {
		t.Fatalf("noticed the death after %v", d)
	}
	// Send fills the ring, then notices too.
	for {
		err := a.Send(ctx, make([]byte, 500))
		if err == nil {
			continue
		}
		if !errors.Is(err, queue.ErrPeerDied) {
			t.Fatalf("Send to a dead peer = %v, want ErrPeerDied", err)
		}
		break
	}
}

func TestWaitSeveral(t *testing.T) {
	r := qRegion(t, 8<<20)
	ctx := qCtx(t)
	q1, _ := queue.New(r, queue.Config{Bytes: 4096})
	q2, _ := queue.New(r, queue.Config{Bytes: 4096})
	pa, pb, _ := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if got, err := queue.WaitTimeout(20*time.Millisecond, q1, q2, pa); err != nil || len(got) != 0 {
		t.Fatalf("WaitTimeout with nothing ready = %v, %v", got, err)
	}
	q2.Put(ctx, []byte("x"))
	if got, err := queue.Wait(ctx, q1, q2, pa); err != nil || fmt.Sprint(got) != "[1]" {
		t.Fatalf("Wait = %v, %v; want [1]", got, err)
	}
	q2.Get(ctx)
	// A message from another process wakes a sleeping Wait.
	p, err := qDelayedSend.Start(ctx, pb.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := queue.Wait(ctx, q1, q2, pa)
	if err != nil || fmt.Sprint(got) != "[2]" {
		t.Fatalf("Wait = %v, %v; want [2]", got, err)
	}
	t.Logf("woke %v after starting to wait", time.Since(start))
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	q1.Close()
	if got, err := queue.Wait(ctx, q1, q2); err != nil || fmt.Sprint(got) != "[0]" {
		t.Fatalf("Wait on a closed queue = %v, %v; want [0]", got, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := queue.Wait(cctx, q2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past its deadline = %v", err)
	}
}

var qDelayedSend = spawn.Register("queue.qDelayedSend", func(ctx context.Context, h queue.PipeHandle) (struct{}, error) {
	p, err := queue.OpenPipe(h)
	if err != nil {
		return struct{}{}, err
	}
	time.Sleep(30 * time.Millisecond)
	return struct{}{}, p.Send(ctx, []byte("late"))
})

func ExamplePipe() {
	r, err := shm.New(1 << 20)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	parent, child, err := queue.NewPipe(r, queue.Config{Bytes: 16 << 10}, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	// child.Handle() would travel to a spawned process (queue.OpenPipe).
	ctx := context.Background()
	child.Send(ctx, []byte("ping"))
	m, _ := parent.Recv(ctx)
	fmt.Println(string(m))
	// Output: ping
}

var _ atomic.Uint64
