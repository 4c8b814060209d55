package conformance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

var (
	// putRange puts 0..n-1 into a typed queue.
	putRange = spawn.Register("conformance.putRange", func(ctx context.Context, a qArg) (int, error) {
		q, err := queue.OpenOf[int64](a.Q, nil)
		if err != nil {
			return 0, err
		}
		for i := range a.N {
			if err := q.Put(ctx, int64(i)); err != nil {
				return i, err
			}
		}
		return a.N, nil
	})
	// joinWorker takes values and marks each done until the queue closes.
	joinWorker = spawn.Register("conformance.joinWorker", func(ctx context.Context, h shm.Handle) (int, error) {
		j, err := queue.OpenJoinableOf[int64](h, nil)
		if err != nil {
			return 0, err
		}
		n := 0
		for {
			if _, err := j.Get(ctx); err != nil {
				if errors.Is(err, queue.ErrClosed) {
					return n, nil
				}
				return n, err
			}
			n++
			if err := j.TaskDone(); err != nil {
				return n, err
			}
		}
	})
)

type qArg struct {
	Q shm.Handle
	N int
}

// TestQueue_put mirrors _TestQueue.test_put: put and put_nowait into a
// bounded queue until full (queue.Full), then a child empties it.
func TestQueue_put(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	q := must[*queue.Of[int64]](t)(queue.NewOf[int64](r, queue.Config{Items: 6}, nil))
	for i := range int64(6) {
		if i%2 == 0 {
			if err := q.Put(ctx, i); err != nil {
				t.Fatal(err)
			}
		} else if err := q.TryPut(i); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 6 {
		t.Fatalf("Len %d", q.Len())
	}
	if err := q.TryPut(7); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("TryPut into a full queue = %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond) // Python: put(timeout=TIMEOUT1)
	defer cancel()
	if err := q.Put(short, 7); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put with a timeout into a full queue = %v", err)
	}
	for i := range int64(6) {
		if v, err := q.Get(ctx); v != i || err != nil {
			t.Fatalf("Get = %d, %v", v, err)
		}
	}
}

// TestQueue_get mirrors test_get: a child fills, get and get_nowait read,
// and an empty queue times out (queue.Empty).
func TestQueue_get(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	q := must[*queue.Of[int64]](t)(queue.NewOf[int64](r, queue.Config{}, nil))
	if _, err := putRange.Run(ctx, qArg{q.Handle(), 4}, spawn.Share(r)); err != nil {
		t.Fatal(err)
	}
	if v, err := q.Get(ctx); v != 0 || err != nil {
		t.Fatal(v, err)
	}
	if v, err := q.TryGet(); v != 1 || err != nil {
		t.Fatal(v, err)
	}
	q.Get(ctx)
	q.Get(ctx)
	if _, err := q.TryGet(); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("TryGet of an empty queue = %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := q.Get(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with a timeout = %v", err)
	}
}

func TestQueue_qsize(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	q := must[*queue.Queue](t)(queue.New(r, queue.Config{}))
	for i := range 3 {
		if q.Len() != i {
			t.Fatalf("Len %d, want %d", q.Len(), i)
		}
		q.Put(ctx, []byte{byte(i)})
	}
	q.Get(ctx)
	if q.Len() != 2 {
		t.Fatalf("Len %d after a get", q.Len())
	}
}

func TestQueue_task_done(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	j := must[*queue.JoinableOf[int64]](t)(queue.NewJoinableOf[int64](r, queue.Config{}, nil))
	var ps []*spawn.Process[int]
	for range 3 {
		ps = append(ps, must[*spawn.Process[int]](t)(joinWorker.Start(ctx, j.Handle(), spawn.Share(r))))
	}
	for i := range int64(50) {
		j.Put(ctx, i)
	}
	if err := j.Join(ctx); err != nil {
		t.Fatal(err)
	}
	j.Close()
	total := 0
	for _, p := range ps {
		n, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 50 {
		t.Fatalf("tasks done %d", total)
	}
	if err := j.TaskDone(); !errors.Is(err, queue.ErrTaskDone) {
		t.Fatalf("TaskDone too many times = %v (Python: ValueError)", err)
	}
}

func TestQueue_timeout(t *testing.T) {
	r := region(t, 4<<20)
	q := must[*queue.Queue](t)(queue.New(r, queue.Config{}))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := q.Get(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("Get(timeout) = %v after %v", err, time.Since(start))
	}
}

// TestQueue_closed_queue_put_get_exceptions: put and get on a closed
// queue fail (Python: ValueError "is closed").
func TestQueue_closed_queue_put_get_exceptions(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	q := must[*queue.Queue](t)(queue.New(r, queue.Config{}))
	q.Close()
	if err := q.Put(ctx, []byte("x")); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Put = %v", err)
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Get = %v", err)
	}
}

// TestQueue_shutdown mirrors Python 3.13's queue shutdown tests
// (test_queue.py's test_shutdown_immediate_*, test_shutdown_*): across
// processes, immediate drops what is queued and releases Join; later
// puts fail; shutting down twice is harmless.
func TestQueue_shutdown(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	j := must[*queue.JoinableOf[int64]](t)(queue.NewJoinableOf[int64](r, queue.Config{}, nil))
	for i := range int64(5) {
		j.Put(ctx, i)
	}
	joined := make(chan error, 1)
	go func() { joined <- j.Join(ctx) }()
	if err := j.Shutdown(true); err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatalf("Join after Shutdown(immediate) = %v", err)
	}
	if err := j.Put(ctx, 1); !errors.Is(err, queue.ErrShutDown) {
		t.Fatalf("Put after Shutdown = %v", err)
	}
	if _, err := j.Get(ctx); !errors.Is(err, queue.ErrShutDown) {
		t.Fatalf("Get after Shutdown(immediate) = %v", err)
	}
	if err := j.Shutdown(false); err != nil {
		t.Fatalf("second Shutdown = %v", err)
	}
	q := must[*queue.Of[int64]](t)(queue.NewOf[int64](r, queue.Config{}, nil))
	if _, err := putRange.Run(ctx, qArg{q.Handle(), 3}, spawn.Share(r)); err != nil {
		t.Fatal(err)
	}
	q.Shutdown(false)
	for i := range int64(3) {
		if v, err := q.Get(ctx); v != i || err != nil {
			t.Fatalf("Get after Shutdown(false) = %d, %v", v, err)
		}
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrShutDown) {
		t.Fatalf("Get of a drained shut-down queue = %v", err)
	}
}

func TestSimpleQueue_empty(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	q := must[*queue.Queue](t)(queue.New(r, queue.Config{}))
	if q.Len() != 0 {
		t.Fatal("new queue not empty")
	}
	q.Put(ctx, []byte("x"))
	if q.Len() == 0 {
		t.Fatal("empty after a put")
	}
	q.Get(ctx)
	if q.Len() != 0 {
		t.Fatal("not empty after the get")
	}
}

func TestSimpleQueue_close(t *testing.T) {
	r := region(t, 4<<20)
	q := must[*queue.Queue](t)(queue.New(r, queue.Config{}))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if !q.Closed() {
		t.Fatal("not closed")
	}
	if err := q.Shutdown(false); err != nil { // Python: closing twice is harmless
		t.Fatalf("Shutdown after Close = %v", err)
	}
}

func TestSimpleQueue_closed(t *testing.T) {
	r := region(t, 4<<20)
	q := must[*queue.Queue](t)(queue.New(r, queue.Config{}))
	if q.Closed() {
		t.Fatal("closed at birth")
	}
	q.Close()
	if !q.Closed() {
		t.Fatal("Closed false after Close")
	}
}
