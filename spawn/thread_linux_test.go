package spawn_test

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// A goroutine that locks its OS thread and returns makes the runtime end
// that thread; a child whose Pdeathsig were tied to that thread would die
// with it (golang/go#27505). The main thread is never ended (the runtime
// wedges it instead), so the goroutine that starts the child must run on
// another thread: two goroutines lock a thread each at once, and one of
// them off the main thread does it.
func TestLockedThreadExitSparesChildren(t *testing.T) {
	var (
		ready   sync.WaitGroup
		release = make(chan struct{})
		result  = make(chan *spawn.Process[struct{}], 1)
		errc    = make(chan error, 2)
		tidc    = make(chan int, 1)
		claimed atomic.Bool
	)
	ready.Add(2)
	for range 2 {
		go func() {
			runtime.LockOSThread()
			ready.Done()
			<-release
			if syscall.Gettid() == os.Getpid() || !claimed.CompareAndSwap(false, true) {
				// The main thread, or the other goroutine got there first.
				runtime.UnlockOSThread()
				return
			}
			p, err := sleeping.Start(context.Background(), time.Hour)
			if err != nil {
				errc <- err
				return
			}
			tidc <- syscall.Gettid()
			result <- p
			// Returns still locked: the runtime ends this thread.
		}()
	}
	ready.Wait()
	close(release)
	var p *spawn.Process[struct{}]
	select {
	case err := <-errc:
		t.Fatal(err)
	case p = <-result:
	}
	defer p.Close()
	tid := <-tidc
	// Wait until the thread is gone, then give a Pdeathsig time to land.
	for range 500 {
		if _, err := os.Stat("/proc/self/task/" + itoa(tid)); err != nil {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := os.Stat("/proc/self/task/" + itoa(tid)); err == nil {
		t.Skip("the runtime kept the locked thread; nothing to prove")
	}
	time.Sleep(200 * time.Millisecond)
	if !p.Alive() {
		code, _ := p.ExitCode()
		t.Fatalf("child died (exit code %d) when the thread that asked for it exited", code)
	}
	p.Kill()
	if _, err := p.Wait(ctxT(t)); err == nil {
		t.Fatal("killed child reported success")
	}
	if code, _ := p.ExitCode(); code != -9 {
		t.Fatalf("exit code %d, want -9", code)
	}
}
