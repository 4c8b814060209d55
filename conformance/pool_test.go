package conformance_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

var errBoom = errors.New("boom") // registered below: errors.Is holds across processes

func init() { spawn.RegisterError(errBoom) }

var (
	square = spawn.Register("conformance.square", func(ctx context.Context, x int) (int, error) { return x * x, nil })
	mul    = spawn.Register("conformance.mul", func(ctx context.Context, a pool.Args2[int, int]) (int, error) { return a.A * a.B, nil })
	// failOn fails for 5 (Python's raise_large_valuerror / SayWhenError).
	failOn = spawn.Register("conformance.failOn", func(ctx context.Context, x int) (int, error) {
		if x == 5 {
			return 0, errBoom
		}
		return x, nil
	})
	getPid = spawn.Register("conformance.getPid", func(ctx context.Context, _ int) (int, error) { return os.Getpid(), nil })
	// waitEvent blocks until the event is set or its context ends.
	waitEvent = spawn.Register("conformance.waitEvent", func(ctx context.Context, h shm.Handle) (int, error) {
		e, err := fsync.OpenEvent(h)
		if err != nil {
			return 0, err
		}
		return 1, e.WaitContext(ctx)
	})
	raiseAfterEvent = spawn.Register("conformance.raiseAfterEvent", func(ctx context.Context, h shm.Handle) (int, error) {
		e, err := fsync.OpenEvent(h)
		if err != nil {
			return 0, err
		}
		if err := e.WaitContext(ctx); err != nil {
			return 0, err
		}
		return 0, errBoom
	})
	initValue = spawn.Register("conformance.initValue", func(ctx context.Context, x int) (int, error) {
		initialized = x
		return 0, nil
	})
	readInit = spawn.Register("conformance.readInit", func(ctx context.Context, _ int) (int, error) { return initialized, nil })
	panics   = spawn.Register("conformance.panics", func(ctx context.Context, _ int) (int, error) { panic("raise RuntimeError(123)") })
)

var initialized int // set by the pool initializer in a worker

func newPool(t *testing.T, ctx context.Context, opts ...pool.Option) *pool.Pool {
	p, err := pool.New(ctx, append([]pool.Option{pool.Workers(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate(context.Background()) })
	return p
}

func TestPool_apply(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	if v, err := pool.Apply(ctx, p, square, 5); v != 25 || err != nil {
		t.Fatal(v, err)
	}
	if v, err := pool.Apply(ctx, p, mul, pool.Args2[int, int]{A: 3, B: 4}); v != 12 || err != nil {
		t.Fatal(v, err)
	}
}

func TestPool_map(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	in := make([]int, 100)
	for i := range in {
		in[i] = i
	}
	got, err := pool.Map(ctx, p, square, in)
	if err != nil || len(got) != 100 || got[99] != 99*99 {
		t.Fatalf("Map = %v, %v", got[:3], err)
	}
	got, err = pool.Map(ctx, p, square, in, pool.Chunk(53))
	if err != nil || got[52] != 52*52 {
		t.Fatal(err)
	}
}

func TestPool_starmap(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	args := []pool.Args2[int, int]{{A: 1, B: 2}, {A: 3, B: 4}, {A: 5, B: 6}}
	got, err := pool.Map(ctx, p, mul, args)
	if err != nil || !slices.Equal(got, []int{2, 12, 30}) {
		t.Fatal(got, err)
	}
}

func TestPool_map_async(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	f := pool.Submit(p, square, 9) // map_async's AsyncResult: a Future
	if v, err := f.Wait(ctx); v != 81 || err != nil {
		t.Fatal(v, err)
	}
}

func TestPool_map_chunksize(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	if got, err := pool.Map(ctx, p, square, []int{1, 2, 3}, pool.Chunk(5)); err != nil || len(got) != 3 {
		t.Fatal(got, err)
	}
}

func TestPool_async(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	f := pool.Submit(p, square, 7)
	if v, err := f.Wait(ctx); v != 49 || err != nil || !isDone(f) {
		t.Fatal(v, err)
	}
}

func isDone[R any](f *pool.Future[R]) bool {
	select {
	case <-f.Done():
		return true
	default:
		return false
	}
}

func TestPool_async_timeout(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	f := pool.Submit(p, waitEvent, e.Handle())
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := f.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get(timeout) = %v", err)
	}
	e.Set()
	if v, err := f.Wait(ctx); v != 1 || err != nil {
		t.Fatal(v, err)
	}
}

func TestPool_imap(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	i := 0
	for v, err := range pool.Imap(ctx, p, square, slices.Values([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})) {
		if err != nil || v != i*i {
			t.Fatalf("item %d: %d, %v", i, v, err)
		}
		i++
	}
	if i != 10 {
		t.Fatalf("%d items", i)
	}
}

func TestPool_imap_unordered(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	var got []int
	for v, err := range pool.ImapUnordered(ctx, p, square, slices.Values([]int{0, 1, 2, 3, 4})) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1, 4, 9, 16}) {
		t.Fatal(got)
	}
}

// TestPool_imap_handle_iterable_exception: a failing item fails alone
// (Python stops at the first; here every other item still comes).
func TestPool_imap_handle_iterable_exception(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	fails := 0
	n := 0
	for _, err := range pool.Imap(ctx, p, failOn, slices.Values([]int{3, 4, 5, 6})) {
		n++
		if errors.Is(err, errBoom) {
			fails++
		}
	}
	if n != 4 || fails != 1 {
		t.Fatalf("%d results, %d failures", n, fails)
	}
}

func TestPool_make_pool(t *testing.T) {
	ctx := tctx(t)
	for _, n := range []int{0, -1} {
		if p, err := pool.New(ctx, pool.Workers(n)); err == nil {
			p.Terminate(ctx)
			t.Fatalf("Workers(%d) accepted (Python: ValueError)", n)
		}
	}
	p := newPool(t, ctx, pool.Workers(3))
	if p.Workers() != 3 {
		t.Fatal(p.Workers())
	}
}

func TestPool_terminate(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := must[*pool.Pool](t)(pool.New(ctx, pool.Workers(2), pool.WorkerOptions(spawn.Share(r))))
	f := pool.Submit(p, waitEvent, e.Handle()) // never set
	start := time.Now()
	if err := p.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(ctx); err == nil {
		t.Fatal("a terminated task succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Terminate took %v", d)
	}
}

func TestPool_empty_iterable(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	if got, err := pool.Map(ctx, p, square, nil); len(got) != 0 || err != nil {
		t.Fatal(got, err)
	}
	for range pool.Imap(ctx, p, square, slices.Values([]int{})) {
		t.Fatal("an item from an empty input")
	}
}

func TestPool_context(t *testing.T) {
	ctx := tctx(t)
	p := must[*pool.Pool](t)(pool.New(ctx, pool.Workers(1)))
	func() { // Python: with Pool() as p: ...
		defer p.Close(ctx)
		if v, err := pool.Apply(ctx, p, square, 2); v != 4 || err != nil {
			t.Fatal(v, err)
		}
	}()
	if _, err := pool.Apply(ctx, p, square, 2); !errors.Is(err, pool.ErrPoolClosed) {
		t.Fatalf("Apply after the block = %v", err)
	}
}

func TestPool_traceback(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	_, err := pool.Apply(ctx, p, panics, 0)
	var ce *spawn.ChildError
	if !errors.As(err, &ce) || ce.Stack == "" {
		t.Fatalf("a panicking task = %v (want a *spawn.ChildError with the worker's stack)", err)
	}
}

func TestPool_wrapped_exception(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	if _, err := pool.Apply(ctx, p, failOn, 5); !errors.Is(err, errBoom) {
		t.Fatalf("the task's sentinel across the boundary: %v", err)
	}
}

func TestPool_map_no_failfast(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	got, err := pool.Map(ctx, p, failOn, []int{1, 5, 7})
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 1 || me.Failed[0].Index != 1 || got[2] != 7 {
		t.Fatalf("Map with one failure = %v, %v", got, err)
	}
}

func TestPool_enter(t *testing.T) {
	ctx := tctx(t)
	p := must[*pool.Pool](t)(pool.New(ctx, pool.Workers(1)))
	p.Close(ctx)
	if _, err := pool.Apply(ctx, p, square, 1); !errors.Is(err, pool.ErrPoolClosed) {
		t.Fatalf("using a closed pool = %v (Python: ValueError)", err)
	}
}

func TestPoolWorkerLifetime_pool_worker_lifetime(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx, pool.Workers(1), pool.MaxTasksPerWorker(2), pool.QueueDepth(1))
	pids := map[int]bool{}
	for range 6 {
		pid, err := pool.Apply(ctx, p, getPid, 0)
		if err != nil {
			t.Fatal(err)
		}
		pids[pid] = true
	}
	if len(pids) < 3 {
		t.Fatalf("6 tasks, at most 2 per worker, ran in %d workers", len(pids))
	}
}

func TestPoolWorkerLifetime_pool_maxtasksperchild_invalid(t *testing.T) {
	ctx := tctx(t)
	for _, n := range []int{-1} {
		if p, err := pool.New(ctx, pool.Workers(1), pool.MaxTasksPerWorker(n)); err == nil {
			p.Terminate(ctx)
			t.Fatalf("MaxTasksPerWorker(%d) accepted (Python: ValueError)", n)
		}
	}
}

func TestInitializers_pool_initializer(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx, pool.Workers(1), pool.Initializer(initValue, 42))
	if v, err := pool.Apply(ctx, p, readInit, 0); v != 42 || err != nil {
		t.Fatalf("initializer's value in the worker = %d, %v", v, err)
	}
}
