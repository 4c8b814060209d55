//go:build linux

package bench

// The Go code of docs/python.md, compiled and run: TestGuide runs every
// guide function, and TestGuideMatchesDocs checks that each Go block of the
// guide appears here line for line, so the guide cannot drift from the API.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// --- Process

var greet = spawn.Register("main.greet", func(ctx context.Context, name string) (string, error) {
	return "hello, " + name, nil
})

func guideProcess(ctx context.Context) (string, error) {
	p, err := greet.Start(ctx, "bob")
	if err != nil {
		return "", err
	}
	msg, err := p.Wait(ctx) // the function's result comes back, not only an exit code
	if err != nil {
		var ce *spawn.ChildError // the child returned an error or panicked
		var ee *spawn.ExitError  // the child died: ee.ExitCode is -9 for SIGKILL
		if errors.As(err, &ce) || errors.As(err, &ee) {
			return "", fmt.Errorf("child failed: %w", err)
		}
		return "", err
	}
	return msg, nil
}

// --- Value and Array

type fillArg struct {
	Counter shm.Handle // a shm.Value[int64]
	Lock    shm.Handle // the fsync.Mutex guarding it
	Data    shm.Handle // a shm.Array[float64]
}

var fill = spawn.Register("main.fill", func(ctx context.Context, a fillArg) (struct{}, error) {
	arr, err := shm.OpenArray[float64](a.Data)
	if err != nil {
		return struct{}{}, err
	}
	for i, x := range arr.Slice() { // a []float64 over the shared bytes
		arr.Slice()[i] = x * 2
	}
	v, err := shm.OpenValue[int64](a.Counter)
	if err != nil {
		return struct{}{}, err
	}
	mu, err := fsync.OpenMutex(a.Lock)
	if err != nil {
		return struct{}{}, err
	}
	if err := mu.Lock(); err != nil { // fsync.ErrOwnerDead: the last holder died
		return struct{}{}, err
	}
	*v.Ptr() += 1
	mu.Unlock()
	return struct{}{}, nil
})

func guideValueArray(ctx context.Context) (int64, []float64, error) {
	r, err := shm.New(1 << 20) // an anonymous region: nothing to unlink, nothing to leak
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	num, _ := shm.NewValue[int64](r)
	mu, _ := fsync.NewMutex(r)
	arr, _ := shm.NewArray[float64](r, 4)
	copy(arr.Slice(), []float64{1, 2, 3, 4})

	arg := fillArg{Counter: num.Handle(), Lock: mu.Handle(), Data: arr.Handle()}
	if _, err := fill.Run(ctx, arg, spawn.Share(r)); err != nil {
		return 0, nil, err
	}
	n, _ := num.Load()
	return n, slices.Clone(arr.Slice()), nil // 1, [2 4 6 8]
}

// --- Named shared memory, with Python on the other side

func guideNamed() error {
	seg, err := shm.OpenRaw("psm_21467_46075") // made by Python's SharedMemory(create=True, size=80)
	if err != nil {
		return err
	}
	defer seg.Close()
	nums, err := shm.ArrayAt[int64](seg, 0, 10) // the 80 bytes as 10 int64s, in place
	if err != nil {
		return err
	}
	nums.Slice()[0] = 42 // Python sees it at once
	return nil
}

// --- Locks and events

type startArg struct{ Ready, Go shm.Handle }

var runner = spawn.Register("main.runner", func(ctx context.Context, a startArg) (struct{}, error) {
	ready, _ := fsync.OpenBarrier(a.Ready)
	start, _ := fsync.OpenEvent(a.Go)
	if _, err := ready.WaitContext(ctx); err != nil { // fsync.ErrBroken if a party died
		return struct{}{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // Python: start.wait(timeout=5)
	defer cancel()
	return struct{}{}, start.WaitContext(ctx)
})

func guideSync(ctx context.Context) error {
	r, err := shm.New(1 << 16)
	if err != nil {
		return err
	}
	defer r.Close()
	ready, _ := fsync.NewBarrier(r, 3) // two children and this process
	start, _ := fsync.NewEvent(r)
	var ps []*spawn.Process[struct{}]
	for range 2 {
		p, err := runner.Start(ctx, startArg{ready.Handle(), start.Handle()}, spawn.Share(r))
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	if _, err := ready.WaitContext(ctx); err != nil {
		return err
	}
	start.Set()
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// --- Queue

type job struct {
	ID   int64
	Size float64
}

var worker = spawn.Register("main.worker", func(ctx context.Context, h shm.Handle) (int, error) {
	q, err := queue.OpenOf[job](h, nil) // nil: raw bytes for a fixed-size job
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		j, err := q.Get(ctx)
		if errors.Is(err, queue.ErrClosed) { // closed and drained
			return n, nil
		}
		if err != nil {
			return n, err
		}
		_ = j.Size
		n++
	}
})

func guideQueue(ctx context.Context) (int, error) {
	r, err := shm.New(4 << 20)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	q, err := queue.NewOf[job](r, queue.Config{Items: 1000}, nil) // Python: Queue(maxsize=1000)
	if err != nil {
		return 0, err
	}
	p, err := worker.Start(ctx, q.Handle(), spawn.Share(r))
	if err != nil {
		return 0, err
	}
	for i := range 100 {
		if err := q.Put(ctx, job{ID: int64(i), Size: 1.5}); err != nil {
			return 0, err
		}
	}
	q.Close() // the worker drains what is left, then sees ErrClosed
	return p.Wait(ctx)
}

// --- Pipe

var echo = spawn.Register("main.echo", func(ctx context.Context, h queue.PipeHandle) (struct{}, error) {
	end, err := queue.OpenPipe(h)
	if err != nil {
		return struct{}{}, err
	}
	for {
		msg, err := end.Recv(ctx) // queue.ErrPeerDied if the parent died
		if err != nil {
			return struct{}{}, nil
		}
		if err := end.Send(ctx, msg); err != nil {
			return struct{}{}, err
		}
	}
})

func guidePipe(ctx context.Context) (string, error) {
	r, err := shm.New(4 << 20)
	if err != nil {
		return "", err
	}
	defer r.Close()
	parent, child, err := queue.NewPipe(r, queue.Config{}, true) // Python: Pipe(duplex=True)
	if err != nil {
		return "", err
	}
	p, err := echo.Start(ctx, child.Handle(), spawn.Share(r))
	if err != nil {
		return "", err
	}
	defer p.Wait(ctx)
	defer parent.Close()
	if err := parent.Send(ctx, []byte("ping")); err != nil {
		return "", err
	}
	if ok, err := parent.Poll(time.Second); err != nil || !ok {
		return "", fmt.Errorf("no answer: %v", err)
	}
	msg, err := parent.Recv(ctx)
	return string(msg), err
}

// --- Pool

var square = spawn.Register("main.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

func guidePool(ctx context.Context) ([]int, int, error) {
	p, err := pool.New(ctx, pool.Workers(2)) // Python: Pool(2); default: spawn.CPUCount()
	if err != nil {
		return nil, 0, err
	}
	defer p.Close(ctx) // Python: close() then join()

	squares, err := pool.Map(ctx, p, square, []int{1, 2, 3, 4}) // [1 4 9 16]
	if err != nil {
		return nil, 0, err // a *pool.MapError lists the items that failed
	}

	f := pool.Submit(p, square, 12) // Python: apply_async(square, (12,))
	v, err := f.Wait(ctx)           // Python: .get()
	return squares, v, err
}

func guideImap(ctx context.Context, p *pool.Pool) (int, error) {
	naturals := func(yield func(int) bool) { // an endless input
		for i := 0; ; i++ {
			if !yield(i) {
				return
			}
		}
	}
	sum := 0
	for sq, err := range pool.Imap(ctx, p, square, naturals, pool.Window(64)) {
		if err != nil {
			return sum, err
		}
		if sum += sq; sum > 1000 {
			break // leaving the loop cancels the work in flight
		}
	}
	return sum, nil
}

func guideWait(ctx context.Context, p *pool.Pool) ([]*pool.Future[int], error) {
	var fs []*pool.Future[int]
	for i := range 4 {
		fs = append(fs, pool.Submit(p, square, i))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // Python: timeout=5
	defer cancel()
	done, notDone, err := pool.Wait(ctx, fs, pool.FirstException) // Python: return_when=FIRST_EXCEPTION
	for _, f := range done {
		if err := f.Err(); err != nil { // the failure Wait returned on
			return notDone, err
		}
	}
	return notDone, err // at the deadline: what is not done yet, and ctx's error
}

// --- Manager dict

type dictArg struct{ Scores shared.Handle }

var score = spawn.Register("main.score", func(ctx context.Context, a dictArg) (struct{}, error) {
	d, err := shared.OpenDict[string, int64](a.Scores)
	if err != nil {
		return struct{}{}, err
	}
	// Read, change and write back as one step, under the dict's lock.
	_, _, err = d.Update("alice", func(v int64, ok bool) (int64, bool) { return v + 10, true })
	return struct{}{}, err
})

func guideDict(ctx context.Context) (int64, error) {
	m, err := shared.NewManager(16 << 20) // Python: SharedMemoryManager / Manager()
	if err != nil {
		return 0, err
	}
	defer m.Close() // frees every container made in it
	d, err := shared.NewDict[string, int64](m.Heap())
	if err != nil {
		return 0, err
	}
	if err := d.Set("alice", 1); err != nil {
		return 0, err
	}
	if _, err := score.Run(ctx, dictArg{d.Handle()}, spawn.Share(m.Region())); err != nil {
		return 0, err
	}
	v, _, err := d.Get("alice") // 11
	return v, err
}
