package sync_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// Idle cost (issue 13): every primitive blocked with a live, silent peer
// costs at most 0.5% of a core (5% under qemu-user, which translates the
// runtime's own idle work at about ten times its cost; see
// queue/idle_linux_test.go). The method is queue's: this process's CPU
// time (getrusage) over the block. All the primitives block at once, for
// 10 s (2 s with -short; FORKLESS_IDLE_BLOCK to change it), so their sum is held to the
// ceiling, which bounds each of them.

var idleCeiling = func() float64 {
	if proc.Emulated() {
		return 0.05
	}
	return 0.005
}()

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type idleArg struct {
	Mutex, RLock, RWMutex, Value, Barrier, Ready shm.Handle
}

// idlePeer runs in a child: it takes every lock, joins the barrier (as a
// party that never arrives), says so, and stays silent until killed.
var idlePeer = spawn.Register("sync.idlePeer", func(ctx context.Context, a idleArg) (int, error) {
	m, err := fsync.OpenMutex(a.Mutex)
	if err != nil {
		return 0, err
	}
	l, err := fsync.OpenRLock(a.RLock)
	if err != nil {
		return 0, err
	}
	rw, err := fsync.OpenRWMutex(a.RWMutex)
	if err != nil {
		return 0, err
	}
	v, err := fsync.OpenValue[int64](a.Value)
	if err != nil {
		return 0, err
	}
	if _, err := fsync.OpenBarrier(a.Barrier); err != nil {
		return 0, err
	}
	ready, err := fsync.OpenEvent(a.Ready)
	if err != nil {
		return 0, err
	}
	for _, lock := range []func() error{m.Lock, l.Lock, rw.Lock, v.Mutex().Lock} {
		if err := lock(); err != nil {
			return 0, err
		}
	}
	ready.Set()
	<-ctx.Done()
	return 0, nil
})

func TestIdleCostEveryPrimitive(t *testing.T) {
	block := 10 * time.Second
	if testing.Short() {
		block = 2 * time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("FORKLESS_IDLE_BLOCK")); err == nil && d > 0 {
		block = d
	}
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	l := must[*fsync.RLock](t)(fsync.NewRLock(r))
	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	v := must[*fsync.Value[int64]](t)(fsync.NewValue[int64](r))
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	ready := must[*fsync.Event](t)(fsync.NewEvent(r))
	sem := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, 0))
	bsem := must[*fsync.BoundedSemaphore](t)(fsync.NewBoundedSemaphore(r, 1))
	cond := must[*fsync.Cond](t)(fsync.NewCond(r))
	ev := must[*fsync.Event](t)(fsync.NewEvent(r))
	wg := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	if !bsem.TryAcquire() {
		t.Fatal("BoundedSemaphore(1) not acquired")
	}
	wg.Add(1)
	arg := idleArg{m.Handle(), l.Handle(), rw.Handle(), v.Handle(), b.Handle(), ready.Handle()}
	p, err := idlePeer.Start(ctxT(t), arg, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	if err := ready.WaitContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waits := map[string]func(ctx context.Context) error{
		"Mutex.Lock":     m.LockContext,
		"RLock.Lock":     l.LockContext,
		"RWMutex.Lock":   rw.LockContext,
		"RWMutex.RLock":  rw.RLockContext,
		"Value.Load":     func(ctx context.Context) error { _, err := v.Load(ctx); return err },
		"Barrier.Wait":   func(ctx context.Context) error { _, err := b.WaitContext(ctx); return err },
		"Semaphore":      sem.AcquireContext,
		"BoundedSem":     bsem.AcquireContext,
		"Event.Wait":     ev.WaitContext,
		"WaitGroup.Wait": wg.WaitContext,
		"Cond.Wait": func(ctx context.Context) error {
			if err := cond.L.Lock(); err != nil {
				return err
			}
			defer cond.L.Unlock()
			return cond.WaitContext(ctx)
		},
	}
	if only := os.Getenv("FORKLESS_IDLE_ONLY"); only != "" {
		// One primitive alone; "baseline": the runtime's own idle cost.
		waits["baseline"] = func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
		for name := range waits {
			if name != only {
				delete(waits, name)
			}
		}
	}
	// The waits start, settle (their first naps, their watches, and under
	// qemu the translation of their code), then this process's CPU time is
	// read over the block: the cost of staying blocked.
	const settle = 500 * time.Millisecond
	runtime.GC()
	ctx, cancel := context.WithTimeout(context.Background(), settle+block)
	defer cancel()
	var before time.Duration
	var start time.Time
	settled := make(chan struct{})
	time.AfterFunc(settle, func() { before, start = cpuTime(t), time.Now(); close(settled) })
	var wgo sync.WaitGroup
	errs := make(map[string]error)
	var mu sync.Mutex
	for name, wait := range waits {
		wgo.Go(func() {
			err := wait(ctx)
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		})
	}
	wgo.Wait()
	<-settled
	used, el := cpuTime(t)-before, time.Since(start)
	for name, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s returned %v, want the context's deadline", name, err)
		}
	}
	share := float64(used) / float64(el)
	t.Logf("%d primitives blocked together on a live, silent peer for %v: %v of CPU, %.3f%% of a core", len(waits), el.Round(time.Millisecond), used, 100*share)
	if share > idleCeiling {
		t.Errorf("%d blocked primitives used %.2f%% of a core together, want at most %.1f%%", len(waits), 100*share, 100*idleCeiling)
	}
}
