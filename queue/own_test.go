package queue_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/spawn"
)

type ownArg struct {
	Q    *queue.Queue
	Pipe *queue.Pipe
}

// ownHello puts "hello" and a message larger than half the ring (the spill
// way) on the queue, and sends "hi" on the pipe.
var ownHello = spawn.Register("queue.ownHello", func(ctx context.Context, a ownArg) (struct{}, error) {
	return struct{}{}, errors.Join(a.Q.Put(ctx, []byte("hello")), a.Q.Put(ctx, bytes.Repeat([]byte{7}, 3<<20)),
		a.Pipe.Send(ctx, []byte("hi")))
})

// TestRegionOfItsOwn: a queue and a pipe made with a nil region get one
// sized for them (spill area included), travel to a child as arguments, and
// their Region closes it.
func TestRegionOfItsOwn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q, err := queue.New(nil, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rd, wr, err := queue.NewPipe(nil, queue.Config{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if q.Region() == nil || rd.Region() != wr.Region() || q.Region() == rd.Region() {
		t.Fatalf("regions: queue %v, pipe ends %v and %v", q.Region(), rd.Region(), wr.Region())
	}
	if _, err := ownHello.Run(ctx, ownArg{q, wr}); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{[]byte("hello"), bytes.Repeat([]byte{7}, 3<<20)} {
		if got, err := q.Get(ctx); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
	}
	if got, err := rd.Recv(ctx); err != nil || string(got) != "hi" {
		t.Fatalf("pipe: %q, %v", got, err)
	}
	rd.Close()
	if err := errors.Join(q.Region().Close(), wr.Region().Close()); err != nil {
		t.Fatal(err)
	}
}
