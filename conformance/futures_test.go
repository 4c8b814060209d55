package conformance_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// startThenWait sets its first event, then waits for its second.
var startThenWait = spawn.Register("conformance.startThenWait", func(ctx context.Context, h [2]shm.Handle) (int, error) {
	s, err := fsync.OpenEvent(h[0])
	if err != nil {
		return 0, err
	}
	e, err := fsync.OpenEvent(h[1])
	if err != nil {
		return 0, err
	}
	s.Set()
	return 1, e.WaitContext(ctx)
})

var osExit = spawn.Register("conformance.osExit", func(ctx context.Context, code int) (int, error) {
	os.Exit(code)
	return 0, nil
})

func TestProcessPoolExecutor_submit(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	if v, err := pool.Submit(p, mul, pool.Args2[int, int]{A: 2, B: 8}).Wait(ctx); v != 16 || err != nil {
		t.Fatal(v, err)
	}
}

func TestProcessPoolExecutor_map_exception(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	var errs []error
	for _, err := range pool.Imap(ctx, p, failOn, slices.Values([]int{1, 1, 5, 1})) {
		errs = append(errs, err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], errBoom) {
		t.Fatalf("errors %v", errs)
	}
}

func TestProcessPoolExecutor_max_workers_negative(t *testing.T) {
	ctx := tctx(t)
	for _, n := range []int{0, -1} {
		if p, err := pool.New(ctx, pool.Workers(n)); !errors.Is(err, pool.ErrWorkers) {
			if p != nil {
				p.Terminate(ctx)
			}
			t.Fatalf("Workers(%d) = %v, want ErrWorkers", n, err)
		}
	}
}

// TestProcessPoolExecutor_killed_child: a worker killed mid-task fails
// that task (Python breaks the whole pool; here the pool goes on).
func TestProcessPoolExecutor_killed_child(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.Workers(1), pool.WorkerOptions(spawn.Share(r)))
	started := must[*fsync.Event](t)(fsync.NewEvent(r))
	f := pool.Submit(p, startThenWait, [2]shm.Handle{started.Handle(), e.Handle()})
	if err := started.WaitContext(ctx); err != nil {
		t.Fatal(err)
	}
	proc, _ := os.FindProcess(p.Pids()[0])
	proc.Kill()
	_, err := f.Wait(ctx)
	var we *pool.WorkerError
	if !errors.As(err, &we) || we.ExitCode != -9 {
		t.Fatalf("task of a killed worker = %v", err)
	}
	if v, err := pool.Apply(ctx, p, square, 3); v != 9 || err != nil {
		t.Fatalf("the pool after the kill: %v, %v", v, err)
	}
}

func TestProcessPoolExecutor_traceback_when_child_process_terminates_abruptly(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx, pool.Workers(1))
	_, err := pool.Apply(ctx, p, osExit, 99)
	var we *pool.WorkerError
	if !errors.As(err, &we) || we.ExitCode != 99 {
		t.Fatalf("os.Exit(99) in a task = %v (want the exit code in a *pool.WorkerError)", err)
	}
}

func TestProcessPoolExecutor_max_tasks_per_child(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx, pool.Workers(1), pool.MaxTasksPerWorker(3), pool.QueueDepth(1))
	var pids []int
	for range 4 {
		pid, err := pool.Apply(ctx, p, getPid, 0)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if pids[0] != pids[1] || pids[1] != pids[2] || pids[3] == pids[0] {
		t.Fatalf("pids %v: the 4th task must run in a new worker", pids)
	}
}

func TestProcessPoolExecutor_max_tasks_early_shutdown(t *testing.T) {
	ctx := tctx(t)
	p := must[*pool.Pool](t)(pool.New(ctx, pool.Workers(3), pool.MaxTasksPerWorker(1)))
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

func TestProcessPoolExecutor_shutdown_race_issue12456(t *testing.T) {
	ctx := tctx(t)
	p := must[*pool.Pool](t)(pool.New(ctx, pool.Workers(2)))
	for i := range 3 {
		pool.Submit(p, square, i)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWait_20369: a future listed twice is done once.
func TestWait_20369(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	f := pool.Submit(p, square, 2)
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{f, f}, pool.AllCompleted)
	if err != nil || len(done) != 1 || len(notDone) != 0 {
		t.Fatalf("done %d not done %d, %v", len(done), len(notDone), err)
	}
}

func TestWait_first_completed(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	f1 := pool.Submit(p, waitEvent, e.Handle())
	f2 := pool.Submit(p, square, 21)
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{f1, f2}, pool.FirstCompleted)
	e.Set()
	if err != nil || len(done) != 1 || done[0] != f2 || len(notDone) != 1 {
		t.Fatalf("done %v not done %v, %v", done, notDone, err)
	}
	f1.Wait(ctx)
}

func TestWait_first_exception(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e1 := must[*fsync.Event](t)(fsync.NewEvent(r))
	e2 := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.Workers(3), pool.WorkerOptions(spawn.Share(r)), pool.QueueDepth(1))
	f1 := pool.Submit(p, square, 21)
	f1.Wait(ctx)
	f2 := pool.Submit(p, raiseAfterEvent, e1.Handle())
	f3 := pool.Submit(p, waitEvent, e2.Handle())
	e1.Set()
	done, notDone, err := pool.Wait(ctx, []*pool.Future[int]{f1, f2, f3}, pool.FirstException)
	e2.Set()
	if err != nil || len(done) != 2 || len(notDone) != 1 || notDone[0] != f3 {
		t.Fatalf("done %d not done %v, %v", len(done), notDone, err)
	}
	f3.Wait(ctx)
}

func TestWait_all_completed(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	fs := []*pool.Future[int]{pool.Submit(p, failOn, 5), pool.Submit(p, square, 2)}
	done, notDone, err := pool.Wait(ctx, fs, pool.AllCompleted)
	if err != nil || len(done) != 2 || len(notDone) != 0 {
		t.Fatalf("done %d not done %d, %v", len(done), len(notDone), err)
	}
}

func TestWait_timeout(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	f1 := pool.Submit(p, square, 2)
	f1.Wait(ctx)
	f2 := pool.Submit(p, waitEvent, e.Handle())
	short, cancel := context.WithTimeout(ctx, 50e6) // Python: 0.050 s
	defer cancel()
	done, notDone, err := pool.Wait(short, []*pool.Future[int]{f1, f2}, pool.AllCompleted)
	e.Set()
	if !errors.Is(err, context.DeadlineExceeded) || len(done) != 1 || len(notDone) != 1 || notDone[0] != f2 {
		t.Fatalf("done %d not done %d, %v", len(done), len(notDone), err)
	}
	f2.Wait(ctx)
}

func TestAsCompleted_no_timeout(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	fs := []*pool.Future[int]{pool.Submit(p, square, 2), pool.Submit(p, failOn, 5), pool.Submit(p, square, 6)}
	n := 0
	for range pool.AsCompleted(ctx, fs...) {
		n++
	}
	if n != 3 {
		t.Fatalf("%d of 3 yielded", n)
	}
}

func TestAsCompleted_duplicate_futures(t *testing.T) {
	ctx := tctx(t)
	p := newPool(t, ctx)
	f := pool.Submit(p, square, 2)
	n := 0
	for range pool.AsCompleted(ctx, f, f, f) {
		n++
	}
	if n != 1 {
		t.Fatalf("a future listed 3 times yielded %d times", n)
	}
}

func TestAsCompleted_future_times_out(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	e := must[*fsync.Event](t)(fsync.NewEvent(r))
	p := newPool(t, ctx, pool.WorkerOptions(spawn.Share(r)))
	done := pool.Submit(p, square, 2)
	done.Wait(ctx)
	slow := pool.Submit(p, waitEvent, e.Handle())
	short, cancel := context.WithTimeout(ctx, 100e6)
	defer cancel()
	var got []*pool.Future[int]
	for _, f := range pool.AsCompleted(short, done, slow) {
		got = append(got, f)
	}
	e.Set()
	if len(got) != 1 || got[0] != done {
		t.Fatalf("yielded %d before the deadline", len(got))
	}
	slow.Wait(ctx)
}

type valueArg struct{ V, A, L shm.Handle }

var valueChild = spawn.Register("conformance.valueChild", func(ctx context.Context, a valueArg) (struct{}, error) {
	v, err := shm.OpenValue[float64](a.V)
	if err != nil {
		return struct{}{}, err
	}
	arr, err := shm.OpenArray[int64](a.A)
	if err != nil {
		return struct{}{}, err
	}
	mu, err := fsync.OpenMutex(a.L)
	if err != nil {
		return struct{}{}, err
	}
	if err := mu.Lock(); err != nil {
		return struct{}{}, err
	}
	*v.Ptr() *= 2
	mu.Unlock()
	for i := range arr.Slice() {
		arr.Slice()[i] *= 2
	}
	return struct{}{}, nil
})

// TestValue_value: a Value with an initial value, changed by a child.
func TestValue_value(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	v := must[*shm.Value[float64]](t)(shm.NewValue(r, 1.25))
	a := must[*shm.Array[int64]](t)(shm.NewArrayOf(r, []int64{1, 2, 3}))
	mu := must[*fsync.Mutex](t)(fsync.NewMutex(r)) // Python's get_lock(): a lock beside it
	if _, err := valueChild.Run(ctx, valueArg{v.Handle(), a.Handle(), mu.Handle()}, spawn.Share(r)); err != nil {
		t.Fatal(err)
	}
	if x, _ := v.Load(); x != 2.5 {
		t.Fatalf("value %v", x)
	}
	if !slices.Equal(a.Slice(), []int64{2, 4, 6}) {
		t.Fatalf("array %v", a.Slice())
	}
}

func TestValue_rawvalue(t *testing.T) {
	r := region(t, 1<<20)
	v := must[*shm.Value[int32]](t)(shm.NewValue[int32](r))
	if x, _ := v.Load(); x != 0 {
		t.Fatal(x)
	}
	v.Store(-7)
	if x, _ := v.Load(); x != -7 {
		t.Fatal(x)
	}
}

// TestArray_array: negative indexes count from the end, as in Python.
func TestArray_array(t *testing.T) {
	r := region(t, 1<<20)
	a := must[*shm.Array[int64]](t)(shm.NewArrayOf(r, []int64{0, 1, 2, 3, 4}))
	if x, err := a.Get(-1); x != 4 || err != nil {
		t.Fatalf("Get(-1) = %d, %v", x, err)
	}
	if err := a.Set(-5, 9); err != nil || a.Slice()[0] != 9 {
		t.Fatalf("Set(-5) = %v", err)
	}
	if _, err := a.Get(5); err == nil {
		t.Fatal("Get past the end (Python: IndexError)")
	}
	if _, err := a.Get(-6); err == nil {
		t.Fatal("Get(-6) of 5 elements")
	}
}

func TestArray_array_from_size(t *testing.T) {
	r := region(t, 1<<20)
	a := must[*shm.Array[float64]](t)(shm.NewArray[float64](r, 10))
	if a.Len() != 10 || slices.ContainsFunc(a.Slice(), func(x float64) bool { return x != 0 }) {
		t.Fatalf("Array of 10: %v", a.Slice())
	}
}

type dictArg struct{ D, L shared.Handle }

var containerChild = spawn.Register("conformance.containerChild", func(ctx context.Context, a dictArg) (struct{}, error) {
	d, err := shared.OpenDict[string, int](a.D)
	if err != nil {
		return struct{}{}, err
	}
	l, err := shared.OpenList[string](a.L)
	if err != nil {
		return struct{}{}, err
	}
	if _, _, err := d.Update("n", func(v int, ok bool) (int, bool) { return v + 1, true }); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, l.Append("from the child")
})

func TestContainers_dict(t *testing.T) {
	ctx := tctx(t)
	m := must[*shared.Manager](t)(shared.NewManager(4 << 20))
	defer m.Close()
	d := must[*shared.Dict[string, int]](t)(shared.NewDict[string, int](m.Heap()))
	l := must[*shared.List[string]](t)(shared.NewList[string](m.Heap()))
	d.Set("n", 41)
	if _, err := containerChild.Run(ctx, dictArg{d.Handle(), l.Handle()}, spawn.Share(m.Region())); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := d.Get("n"); v != 42 || !ok || err != nil {
		t.Fatal(v, ok, err)
	}
	if found, _ := d.Delete("n"); !found || d.Len() != 0 {
		t.Fatal("del")
	}
}

func TestContainers_list(t *testing.T) {
	ctx := tctx(t)
	m := must[*shared.Manager](t)(shared.NewManager(4 << 20))
	defer m.Close()
	d := must[*shared.Dict[string, int]](t)(shared.NewDict[string, int](m.Heap()))
	l := must[*shared.List[string]](t)(shared.NewList[string](m.Heap()))
	l.Append("a", "b")
	if _, err := containerChild.Run(ctx, dictArg{d.Handle(), l.Handle()}, spawn.Share(m.Region())); err != nil {
		t.Fatal(err)
	}
	if l.Len() != 3 {
		t.Fatalf("len %d", l.Len())
	}
	if v, err := l.Get(2); v != "from the child" || err != nil {
		t.Fatal(v, err)
	}
}

func TestContainers_namespace(t *testing.T) {
	m := must[*shared.Manager](t)(shared.NewManager(1 << 20))
	defer m.Close()
	type ns struct {
		Name string
		X    int
	}
	rec := must[*shared.Record[ns]](t)(shared.NewRecord(m.Heap(), ns{"Bob", 1}))
	rec.Update(func(v ns) ns { v.X++; return v })
	if v, _ := rec.Load(); v != (ns{"Bob", 2}) {
		t.Fatal(v)
	}
}

func TestSharedMemory_shared_memory_ShareableList_basics(t *testing.T) {
	m := must[*shared.Manager](t)(shared.NewManager(1 << 20))
	defer m.Close()
	sl := must[*shared.ShareableList[int64]](t)(shared.NewShareableList(m.Heap(), []int64{1, 2, 3}))
	if sl.Len() != 3 {
		t.Fatal(sl.Len())
	}
	sl.Set(1, 20)
	if v, _ := sl.Get(1); v != 20 {
		t.Fatal(v)
	}
	empty := must[*shared.ShareableList[int64]](t)(shared.NewShareableList[int64](m.Heap(), nil))
	if empty.Len() != 0 {
		t.Fatal("empty ShareableList")
	}
}

func TestSharedMemory_shared_memory_basics(t *testing.T) {
	name := "forkless-conf-" + string(rune('a'+os.Getpid()%26))
	r := must[*shm.Region](t)(shm.Create(name, 1<<16))
	defer r.Close()
	r2 := must[*shm.Region](t)(shm.Open(name))
	defer r2.Close()
	if r2.ID() != r.ID() || r2.Name() != name {
		t.Fatal("the same region by name")
	}
	if _, err := shm.Create(name, 1<<16); err == nil {
		t.Fatal("Create of an existing name (Python: FileExistsError)")
	}
}
