//go:build unix

package pool_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// selectEcho receives one message on its pipe end, sends it back and
// returns (so its process exits).
var selectEcho = spawn.Register("pool.selectEcho", func(ctx context.Context, h queue.PipeHandle) (struct{}, error) {
	p, err := queue.OpenPipe(h)
	if err != nil {
		return struct{}{}, err
	}
	defer p.Close()
	m, err := p.Recv(ctx)
	if err != nil {
		return struct{}{}, err
	}
	return struct{}{}, p.Send(ctx, m)
})

// TestWaitAnyMixed waits on a process, a future, a queue and a pipe at
// once, as Python's connection.wait does on sentinels and connections.
func TestWaitAnyMixed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := shm.New(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q, _ := queue.New(r, queue.Config{Bytes: 4096})
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := selectEcho.Start(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	if got, err := pool.WaitAny(short, p, q, a); !errors.Is(err, context.DeadlineExceeded) || got != nil {
		t.Fatalf("WaitAny with nothing ready = %v, %v", got, err)
	}
	cancelShort()

	go q.Put(ctx, []byte("x")) // wakes a WaitAny already asleep
	if got, err := pool.WaitAny(ctx, p, q, a); err != nil || len(got) != 1 || got[0] != any(q) {
		t.Fatalf("WaitAny after a Put = %v, %v", got, err)
	}
	q.TryGet()

	a.Send(ctx, []byte("ping"))
	got, err := pool.WaitAny(ctx, q, a) // the echo
	if err != nil || len(got) != 1 || got[0] != any(a) {
		t.Fatalf("WaitAny for the echo = %v, %v", got, err)
	}
	a.Recv(ctx)
	if got, err := pool.WaitAny(ctx, q, p); err != nil || len(got) != 1 || got[0] != any(p) {
		t.Fatalf("WaitAny for the exit = %v, %v", got, err)
	}

	pl, err := pool.New(ctx, pool.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close(ctx)
	f := pool.Submit(pl, poolSquare, 7)
	if got, err := pool.WaitAny(ctx, q, f); err != nil || len(got) != 1 || got[0] != any(f) {
		t.Fatalf("WaitAny for a future = %v, %v", got, err)
	}
	if _, err := pool.WaitAny(ctx, q, 42); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("WaitAny on an int = %v", err)
	}
	if got, err := pool.WaitAny(ctx); got != nil || err != nil {
		t.Fatalf("WaitAny of nothing = %v, %v", got, err)
	}
}

// Python's multiprocessing.connection.wait over several kinds of object:
// here a queue with a message and a silent pipe.
func ExampleWaitAny() {
	r, _ := shm.New(4 << 20)
	defer r.Close()
	ctx := context.Background()
	q, _ := queue.New(r, queue.Config{})
	a, b, _ := queue.NewPipe(r, queue.Config{}, true)
	defer a.Close()
	q.Put(ctx, []byte("job"))
	ready, _ := pool.WaitAny(ctx, q, a)
	fmt.Println(len(ready), ready[0] == any(q))
	b.Send(ctx, []byte("hello"))
	ready, _ = pool.WaitAny(ctx, a)
	fmt.Println(len(ready))
	// Output:
	// 1 true
	// 1
}
