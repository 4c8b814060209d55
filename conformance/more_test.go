package conformance_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

var (
	unencodableResult = spawn.Register("conformance.unencodableResult", func(ctx context.Context, _ int) (any, error) {
		return make(chan int), nil
	})
	identity = spawn.Register("conformance.identity", func(ctx context.Context, v any) (any, error) { return v, nil })
	// semAcquire takes one unit of a semaphore (Python's sem.acquire).
	semAcquire = spawn.Register("conformance.semAcquire", func(ctx context.Context, h shm.Handle) (int, error) {
		s, err := fsync.OpenSemaphore(h)
		if err != nil {
			return 0, err
		}
		return 1, s.AcquireContext(ctx)
	})
	writeNamed = spawn.Register("conformance.writeNamed", func(ctx context.Context, name string) (struct{}, error) {
		r, err := shm.Open(name)
		if err != nil {
			return struct{}{}, err
		}
		defer r.Close()
		a, err := shm.ArrayAt[byte](r, shm.DataOffset, 5)
		if err != nil {
			return struct{}{}, err
		}
		copy(a.Slice(), "howdy")
		return struct{}{}, nil
	})
)

// cancelledFuture is CPython's CANCELLED_AND_NOTIFIED_FUTURE: a task
// cancelled before it ran.
func cancelledFuture(t *testing.T, ctx context.Context, p *pool.Pool, e *fsync.Event) *pool.Future[int] {
	f := pool.Submit(p, waitEvent, e.Handle())
	f.Cancel()
	f.Wait(ctx) //nolint:errcheck // cancelled
	return f
}

func TestWait_first_completed_some_already_completed(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	cancelled := cancelledFuture(t, ctx, p, e)
	ok := pool.Submit(p, square, 2)
	ok.Wait(ctx)
	pending := pool.Submit(p, waitEvent, e.Handle())
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{cancelled, ok, pending}, pool.FirstCompleted)
	e.Set()
	if err != nil || len(done) != 2 || len(notDone) != 1 || notDone[0] != pending {
		t.Fatalf("done %d not done %v, %v", len(done), notDone, err)
	}
	pending.Wait(ctx)
}

func TestWait_first_exception_some_already_complete(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	ok := pool.Submit(p, square, 2)
	ok.Wait(ctx)
	failed := pool.Submit(p, failOn, 5)
	pending := pool.Submit(p, waitEvent, e.Handle())
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{ok, failed, pending}, pool.FirstException)
	e.Set()
	if err != nil || len(done) != 2 || len(notDone) != 1 || notDone[0] != pending {
		t.Fatalf("done %d not done %v, %v", len(done), notDone, err)
	}
	pending.Wait(ctx)
}

func TestWait_first_exception_one_already_failed(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	failed := pool.Submit(p, failOn, 5)
	failed.Wait(ctx)
	pending := pool.Submit(p, waitEvent, e.Handle())
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{failed, pending}, pool.FirstException)
	e.Set()
	if err != nil || len(done) != 1 || done[0] != failed || len(notDone) != 1 {
		t.Fatalf("done %v not done %v, %v", done, notDone, err)
	}
	pending.Wait(ctx)
}

// TestPool_map_async_callbacks: apply_async's callback and error_callback
// are Future.OnDone.
func TestPool_map_async_callbacks(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	type res struct {
		v   int
		err error
	}
	got := make(chan res, 2)
	pool.Submit(p, square, 4).OnDone(func(v int, err error) { got <- res{v, err} })
	pool.Submit(p, failOn, 5).OnDone(func(v int, err error) { got <- res{v, err} })
	var rs []res
	for range 2 {
		select {
		case r := <-got:
			rs = append(rs, r)
		case <-ctx.Done():
			t.Fatal("callbacks not called")
		}
	}
	okSeen := slices.ContainsFunc(rs, func(r res) bool { return r.v == 16 && r.err == nil })
	errSeen := slices.ContainsFunc(rs, func(r res) bool { return errors.Is(r.err, errBoom) })
	if !okSeen || !errSeen {
		t.Fatalf("callbacks got %+v", rs)
	}
}

// TestPoolWorkerErrors_async_error_callback: the error callback sees the
// task's error.
func TestPoolWorkerErrors_async_error_callback(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	got := make(chan error, 1)
	pool.Submit(p, failOn, 5).OnDone(func(_ int, err error) { got <- err })
	select {
	case err := <-got:
		if !errors.Is(err, errBoom) {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("error callback not called")
	}
}

// TestPoolWorkerErrors_unpickleable_result: a result that cannot travel
// fails its task with an error, and the pool goes on.
func TestPoolWorkerErrors_unpickleable_result(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	if _, err := pool.Apply(ctx, p, unencodableResult, 0); err == nil {
		t.Fatal("an unencodable result came back")
	}
	if v, err := pool.Apply(ctx, p, square, 3); v != 9 || err != nil {
		t.Fatalf("the pool after: %v, %v", v, err)
	}
}

// TestPool_map_unplicklable: an argument that cannot travel is refused.
func TestPool_map_unplicklable(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	_, err := pool.Map(ctx, p, identity, []any{1, make(chan int)})
	if err == nil {
		t.Fatal("an unencodable argument was accepted")
	}
}

func TestPoolWorkerLifetime_pool_worker_lifetime_early_close(t *testing.T) {
	ctx := tctx(t)
	p := must[*pool.Pool](t)(pool.New(ctx, pool.Workers(1), pool.MaxTasksPerWorker(1)))
	var fs []*pool.Future[int]
	for i := range 6 {
		fs = append(fs, pool.Submit(p, square, i))
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, f := range fs {
		if v, err := f.Wait(ctx); v != i*i || err != nil {
			t.Fatalf("task %d: %d, %v", i, v, err)
		}
	}
}

// TestProcessPoolExecutor_saturation: many tasks blocked on a semaphore
// never start more workers than asked for.
func TestProcessPoolExecutor_saturation(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	sem := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 0))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	const jobs = 15 * 2
	var fs []*pool.Future[int]
	for range jobs {
		fs = append(fs, pool.Submit(p, semAcquire, sem.Handle()))
	}
	if n := len(p.Pids()); n != 2 {
		t.Fatalf("%d workers for a pool of 2", n)
	}
	for range jobs {
		sem.Release()
	}
	if err := pool.WaitAll(ctx, fs...); err != nil {
		t.Fatal(err)
	}
}

// TestProcessPoolExecutor_map_timeout: results before the deadline come,
// then the context's error (Python: TimeoutError).
func TestProcessPoolExecutor_map_timeout(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	set := must[*fsync.Event](t)(fsync.NewEvent(r))
	set.Set()
	p := newPool(t, ctx, pool.Workers(1), pool.WorkerOptions(spawn.Share(r)))
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var oks int
	var last error
	for _, err := range pool.Imap(short, p, waitEvent, slices.Values([]shm.Handle{set.Handle(), set.Handle(), e.Handle()}), pool.Chunk(1)) {
		if err == nil {
			oks++
		}
		last = err
	}
	if oks != 2 || !errors.Is(last, context.DeadlineExceeded) {
		t.Fatalf("%d results, then %v", oks, last)
	}
}

// TestProcess_child_fd_inflation: starting and reaping children leaves no
// descriptor behind in the parent.
func TestProcess_child_fd_inflation(t *testing.T) {
	ctx := tctx(t)
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	echoArgs.Run(ctx, procArgs{}) // warm up whatever spawn keeps for good
	before := count()
	for range 5 {
		if _, err := echoArgs.Run(ctx, procArgs{}); err != nil {
			t.Fatal(err)
		}
	}
	if after := count(); after > before {
		t.Fatalf("descriptors %d before, %d after 5 children", before, after)
	}
}

func TestContainers_dict_iter(t *testing.T) {
	m := must[*shared.Manager](t)(shared.NewManager(1 << 20))
	defer m.Close()
	d := must[*shared.Dict[int, int]](t)(shared.NewDict[int, int](m.Heap()))
	for i := range 10 {
		d.Set(i, i*i)
	}
	sum := 0
	d.Range(func(k, v int) bool { sum += v; return true })
	if sum != 285 {
		t.Fatal(sum)
	}
}

func TestContainers_list_iter(t *testing.T) {
	m := must[*shared.Manager](t)(shared.NewManager(1 << 20))
	defer m.Close()
	l := must[*shared.List[int]](t)(shared.NewList[int](m.Heap()))
	l.Append(0, 1, 2, 3)
	var got []int
	l.Range(func(i, v int) bool { got = append(got, v); return true })
	if !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatal(got)
	}
}

func TestSharedMemory_shared_memory_across_processes(t *testing.T) {
	ctx := tctx(t)
	name := "forkless-conf-x" + string(rune('a'+os.Getpid()%26))
	r := must[*shm.Region](t)(shm.Create(name, 1<<16))
	defer r.Close()
	if _, err := writeNamed.Run(ctx, name); err != nil { // the child opens it by name
		t.Fatal(err)
	}
	a := must[*shm.Array[byte]](t)(shm.ArrayAt[byte](r, shm.DataOffset, 5))
	if string(a.Slice()) != "howdy" {
		t.Fatalf("%q", a.Slice())
	}
}
