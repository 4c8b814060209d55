package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

const iterItems = 500

type iterArg struct {
	Q    *queue.Queue
	Of   *queue.Of[int]
	Pipe *queue.Pipe // the sending end
}

// iterProducer sends 0..iterItems-1 on each, then closes each.
var iterProducer = spawn.Register("queue.iterProducer", func(ctx context.Context, a iterArg) (struct{}, error) {
	for i := range iterItems {
		if err := errors.Join(a.Q.Put(ctx, []byte(fmt.Sprint(i))), a.Of.Put(ctx, i),
			a.Pipe.Send(ctx, []byte(fmt.Sprint(i)))); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, errors.Join(a.Q.Close(), a.Of.Close(), a.Pipe.Close())
})

// TestAllAcrossProcesses: a child puts, the parent ranges over Queue.All,
// Of.All and Pipe.All: every item in order, and the loops end quietly when
// the child closes.
func TestAllAcrossProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := shm.New(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg := queue.Config{Bytes: 64 << 10}
	raw, err := queue.NewRawCodec[int]()
	if err != nil {
		t.Fatal(err)
	}
	q, err1 := queue.New(r, cfg)
	of, err2 := queue.NewOf(r, cfg, raw)
	rd, wr, err3 := queue.NewPipe(r, cfg, false)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	p, err := iterProducer.Start(ctx, iterArg{q, of, wr})
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	defer func() { <-waited }()
	go func() { // a child that fails ends the loops below with its error
		defer close(waited)
		if _, err := p.Wait(ctx); err != nil {
			t.Errorf("child: %v", err)
			cancel()
		}
	}()
	n := 0
	for msg, err := range q.All(ctx) {
		if err != nil || string(msg) != fmt.Sprint(n) {
			t.Fatalf("queue item %d: %q, %v", n, msg, err)
		}
		n++
	}
	m := 0
	for v, err := range of.All(ctx) {
		if err != nil || v != m {
			t.Fatalf("of item %d: %d, %v", m, v, err)
		}
		m++
	}
	k := 0
	for msg, err := range rd.All(ctx) {
		if err != nil || string(msg) != fmt.Sprint(k) {
			t.Fatalf("pipe item %d: %q, %v", k, msg, err)
		}
		k++
	}
	if n != iterItems || m != iterItems || k != iterItems {
		t.Fatalf("got %d, %d, %d items, want %d each", n, m, k, iterItems)
	}
}

// TestAllEndsWithTheContext: an open, empty queue's loop ends with ctx's
// error as its last pair; breaking out takes nothing more.
func TestAllEndsWithTheContext(t *testing.T) {
	r, err := shm.New(32 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q, err := queue.New(r, queue.Config{Bytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := q.Put(context.Background(), []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for msg, err := range q.All(context.Background()) {
		if err != nil || string(msg) != "a" {
			t.Fatalf("first: %q, %v", msg, err)
		}
		break
	}
	if q.Len() != 2 {
		t.Fatalf("Len after break = %d, want 2", q.Len())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var got []string
	var last error
	for msg, err := range q.All(ctx) {
		if err != nil {
			last = err
			continue
		}
		got = append(got, string(msg))
	}
	if fmt.Sprint(got) != "[b c]" || !errors.Is(last, context.DeadlineExceeded) {
		t.Fatalf("got %v, last error %v; want [b c] and the deadline", got, last)
	}
}

func ExampleQueue_All() {
	r, _ := shm.New(32 << 20)
	defer r.Close()
	q, _ := queue.New(r, queue.Config{Bytes: 64 << 10})
	ctx := context.Background()
	for _, s := range []string{"ham", "eggs"} {
		q.Put(ctx, []byte(s))
	}
	q.Close() // the loop below ends once the queue is drained
	for msg, err := range q.All(ctx) {
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Println(string(msg))
	}
	// Output:
	// ham
	// eggs
}
