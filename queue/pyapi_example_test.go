package queue_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
)

// Python 3.13's q.shutdown(immediate=True): what is queued is dropped,
// Join returns, later puts and gets fail.
func ExampleJoinable_Shutdown() {
	r, _ := shm.New(4 << 20)
	defer r.Close()
	ctx := context.Background()
	j, _ := queue.NewJoinableOf[string](r, queue.Config{}, nil)
	j.Put(ctx, "a")
	j.Put(ctx, "b")
	j.Shutdown(true)
	fmt.Println(j.Len(), j.Join(ctx))
	_, err := j.Get(ctx)
	fmt.Println(errors.Is(err, queue.ErrShutDown), errors.Is(j.Put(ctx, "c"), queue.ErrShutDown))
	// Output:
	// 0 <nil>
	// true true
}

// Python's conn.recv_bytes_into(buf, offset) and BufferTooShort.
func ExamplePipe_RecvBytesInto() {
	r, _ := shm.New(4 << 20)
	defer r.Close()
	ctx := context.Background()
	a, b, _ := queue.NewPipe(r, queue.Config{}, true)
	defer a.Close()
	buf := make([]byte, 8)
	a.Send(ctx, []byte("hi"))
	n, _ := b.RecvBytesInto(ctx, buf, 4)
	fmt.Printf("%d %q\n", n, buf[4:4+n])
	a.Send(ctx, []byte("a longer message"))
	_, err := b.RecvBytesInto(ctx, buf, 0)
	var short *queue.BufferTooShortError
	if errors.As(err, &short) {
		fmt.Printf("too short for %q\n", short.Msg) // not lost
	}
	// Output:
	// 2 "hi"
	// too short for "a longer message"
}

// Python's conn.send(obj) and conn.recv() on a typed pipe.
func ExampleNewPipeOf() {
	type point struct{ X, Y int64 }
	r, _ := shm.New(4 << 20)
	defer r.Close()
	ctx := context.Background()
	a, b, _ := queue.NewPipeOf[point](r, queue.Config{}, true, nil)
	defer a.Close()
	a.Send(ctx, point{1, 2})
	p, _ := b.Recv(ctx)
	fmt.Println(p.X + p.Y)
	// Output: 3
}
