package queue_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// pyPutBlocked puts into a full queue and returns Put's error (the
// parent's Shutdown must release it).
var pyPutBlocked = spawn.Register("queue.pyPutBlocked", func(ctx context.Context, h shm.Handle) (bool, error) {
	q, err := queue.Open(h)
	if err != nil {
		return false, err
	}
	err = q.Put(ctx, []byte("late"))
	return errors.Is(err, queue.ErrShutDown), nil
})

func TestShutdownImmediateAcrossProcesses(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	q, err := queue.New(r, queue.Config{Items: 2})
	if err != nil {
		t.Fatal(err)
	}
	q.Put(ctx, []byte("a"))
	q.Put(ctx, []byte("b"))
	p, err := pyPutBlocked.Start(ctx, q.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Shutdown(true); err != nil {
		t.Fatal(err)
	}
	shut, err := p.Wait(ctx)
	if err != nil || !shut {
		t.Fatalf("child's blocked Put after Shutdown: ErrShutDown %v, %v", shut, err)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("Len after Shutdown(true) = %d, want 0", n)
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrShutDown) {
		t.Fatalf("Get after Shutdown(true) = %v, want ErrShutDown", err)
	}
	if err := q.Shutdown(true); err != nil {
		t.Fatalf("second Shutdown = %v, want nil", err)
	}
	if err := q.Shutdown(false); err != nil {
		t.Fatalf("third Shutdown = %v, want nil", err)
	}
}

func TestShutdownDrainsThenFails(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	q, err := queue.NewOf[int64](r, queue.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(3) {
		q.Put(ctx, i)
	}
	if err := q.Shutdown(false); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, 9); !errors.Is(err, queue.ErrShutDown) {
		t.Fatalf("Put after Shutdown = %v", err)
	}
	for i := range int64(3) {
		if v, err := q.Get(ctx); v != i || err != nil {
			t.Fatalf("Get %d after Shutdown(false) = %d, %v", i, v, err)
		}
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrShutDown) {
		t.Fatalf("Get of a drained shut-down queue = %v", err)
	}
}

func TestJoinableShutdownReleasesJoin(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	j, err := queue.NewJoinable(r, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		j.Put(ctx, []byte("task"))
	}
	joined := make(chan error, 1)
	go func() { joined <- j.Join(ctx) }()
	if err := j.Shutdown(true); err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatalf("Join after Shutdown(true) = %v", err)
	}
	if j.Unfinished() != 0 || j.Len() != 0 {
		t.Fatalf("after Shutdown(true): unfinished %d, len %d", j.Unfinished(), j.Len())
	}
}

// pySendSizes sends messages of the given lengths on its pipe end.
var pySendSizes = spawn.Register("queue.pySendSizes", func(ctx context.Context, a pySizesArg) (struct{}, error) {
	p, err := queue.OpenPipe(a.End)
	if err != nil {
		return struct{}{}, err
	}
	for _, n := range a.Sizes[:a.N] {
		if err := p.Send(ctx, bytes.Repeat([]byte{byte(n)}, int(n))); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

type pySizesArg struct {
	End   queue.PipeHandle
	N     int
	Sizes [8]int32
}

func TestPipeRecvBytesInto(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 64 << 10}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()                        // before the region: a pipe end watches its peer's exit
	sizes := [8]int32{5, 40, 3, 100 << 10} // the last one spills
	p, err := pySendSizes.Start(ctx, pySizesArg{End: b.Handle(), N: 4, Sizes: sizes}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.Repeat([]byte{'x'}, 16)
	if n, err := a.RecvBytesInto(ctx, buf, 8); n != 5 || err != nil || !bytes.Equal(buf, append(bytes.Repeat([]byte{'x'}, 8), 5, 5, 5, 5, 5, 'x', 'x', 'x')) {
		t.Fatalf("RecvBytesInto at 8 = %d, %v, %q", n, err, buf)
	}
	_, err = a.RecvBytesInto(ctx, buf, 0)
	var short *queue.BufferTooShortError
	if !errors.As(err, &short) || !errors.Is(err, queue.ErrBufferTooShort) || len(short.Msg) != 40 || short.Room != 16 {
		t.Fatalf("RecvBytesInto of 40 bytes into 16 = %v", err)
	}
	if n, err := a.RecvBytesInto(ctx, buf, 13); n != 3 || err != nil {
		t.Fatalf("RecvBytesInto after a short buffer = %d, %v (the next message must follow)", n, err)
	}
	big := make([]byte, 200<<10)
	if n, err := a.RecvBytesInto(ctx, big, 1); n != 100<<10 || err != nil || big[1] != 0 {
		t.Fatalf("RecvBytesInto of a spilled message = %d, %v", n, err)
	}
	if _, err := a.RecvBytesInto(ctx, buf, 17); !errors.Is(err, queue.ErrBufferTooShort) {
		t.Fatalf("offset past the buffer = %v", err)
	}
	if _, err := a.RecvBytesInto(ctx, buf, -1); !errors.Is(err, queue.ErrBufferTooShort) {
		t.Fatalf("negative offset = %v", err)
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

type pyMsg struct {
	Name string
	Vals []int
}

// pyEchoOf echoes typed messages, doubled, until the pipe closes.
var pyEchoOf = spawn.Register("queue.pyEchoOf", func(ctx context.Context, h queue.PipeHandle) (int, error) {
	p, err := queue.OpenPipeOf[pyMsg](h, nil)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		m, err := p.Recv(ctx)
		if errors.Is(err, queue.ErrClosed) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		m.Name += m.Name
		if err := p.Send(ctx, m); err != nil {
			return n, err
		}
	}
})

func TestPipeOfAcrossProcesses(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	a, b, err := queue.NewPipeOf[pyMsg](r, queue.Config{}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.OpenPipeOf[int64](b.Handle(), nil); !errors.Is(err, shm.ErrType) {
		t.Fatalf("OpenPipeOf with another type = %v, want shm.ErrType", err)
	}
	p, err := pyEchoOf.Start(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := a.Send(ctx, pyMsg{Name: "ab", Vals: []int{i}}); err != nil {
			t.Fatal(err)
		}
		m, err := a.Recv(ctx)
		if err != nil || m.Name != "abab" || len(m.Vals) != 1 || m.Vals[0] != i {
			t.Fatalf("echo %d = %+v, %v", i, m, err)
		}
	}
	if err := a.Send(ctx, pyMsg{Vals: make([]int, 1)}); err != nil {
		t.Fatal(err)
	}
	if ready, err := queue.Wait(ctx, a); err != nil || len(ready) != 1 {
		t.Fatalf("Wait on a PipeOf = %v, %v", ready, err)
	}
	a.Recv(ctx)
	a.Close()
	if n, err := p.Wait(ctx); n != 11 || err != nil {
		t.Fatalf("child echoed %d, %v", n, err)
	}
}

// pyJoinWorker takes every value, adds it to a sum and marks it done.
var pyJoinWorker = spawn.Register("queue.pyJoinWorker", func(ctx context.Context, h shm.Handle) (int64, error) {
	j, err := queue.OpenJoinableOf[int64](h, nil)
	if err != nil {
		return 0, err
	}
	var sum int64
	for {
		v, err := j.Get(ctx)
		if errors.Is(err, queue.ErrClosed) {
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
		sum += v
		if err := j.TaskDone(); err != nil {
			return sum, err
		}
	}
})

func TestJoinableOfAcrossProcesses(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	j, err := queue.NewJoinableOf[int64](r, queue.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.OpenJoinableOf[string](j.Handle(), nil); !errors.Is(err, shm.ErrType) {
		t.Fatalf("OpenJoinableOf with another type = %v", err)
	}
	plain, _ := queue.NewOf[int64](r, queue.Config{}, nil)
	if _, err := queue.OpenJoinableOf[int64](plain.Handle(), nil); !errors.Is(err, shm.ErrKind) {
		t.Fatalf("OpenJoinableOf of a plain queue = %v", err)
	}
	p, err := pyJoinWorker.Start(ctx, j.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(100) {
		if err := j.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Join(ctx); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if sum, err := p.Wait(ctx); sum != 4950 || err != nil {
		t.Fatalf("worker sum %d, %v", sum, err)
	}
}

// TestListenerHelperProcess is the unrelated process of
// TestListenerUnrelatedProcess: the test binary run by os/exec (not
// spawn), told the address in FORKLESS_TEST_DIAL. It does nothing
// otherwise.
func TestListenerHelperProcess(t *testing.T) {
	addr := os.Getenv("FORKLESS_TEST_DIAL")
	if addr == "" {
		return
	}
	ctx := qCtx(t)
	c, err := queue.Dial(ctx, addr)
	switch os.Getenv("FORKLESS_TEST_EXPECT") {
	case "refused": // another user, past the file permissions
		if !errors.Is(err, queue.ErrAuthentication) {
			t.Fatalf("Dial as uid %d = %v, want ErrAuthentication", os.Getuid(), err)
		}
		return
	case "denied": // another user, stopped by the file permissions
		if !errors.Is(err, os.ErrPermission) {
			t.Fatalf("Dial as uid %d = %v, want a permission error", os.Getuid(), err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, append(m, " pong"...)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Recv after the listener side closed = %v", err)
	}
}

func TestListenerUnrelatedProcess(t *testing.T) {
	ctx := qCtx(t)
	l, err := queue.Listen("", queue.Config{Bytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := os.Stat(l.Addr())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", st.Mode(), err)
	}
	if _, err := queue.Listen(l.Addr(), queue.Config{}); err == nil {
		t.Fatal("a second Listen on a bound address succeeded")
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestListenerHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FORKLESS_TEST_DIAL="+l.Addr())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept(ctx)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	if err := c.Send(ctx, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	m, err := c.Recv(ctx)
	if err != nil || string(m) != "ping pong" {
		t.Fatalf("answer %q, %v", m, err)
	}
	c.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("unrelated process: %v\n%s", err, out.Bytes())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Accept(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Accept with a cancelled context = %v", err)
	}
}

// TestPipeParentClosesChildEnd: Python's idiom, child_conn.close() right
// after p.start(), must not close the child's end (issue 12). It failed
// before Close learnt to release an end handed on and never used.
func TestPipeParentClosesChildEnd(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := pyEchoBytes.Start(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // before or after the child opened it
		t.Fatal(err)
	}
	if err := b.Send(ctx, []byte("x")); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Send on the released copy = %v, want ErrClosed", err)
	}
	for i := range 3 {
		if err := a.Send(ctx, []byte{byte(i)}); err != nil {
			t.Fatalf("Send after the parent closed its copy of the child's end: %v", err)
		}
		if m, err := a.Recv(ctx); err != nil || len(m) != 1 || m[0] != byte(i) {
			t.Fatalf("echo %d = %v, %v", i, m, err)
		}
	}
	a.Send(ctx, nil) // the child closes its end on an empty message
	if _, err := a.Recv(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Recv after the child closed its end = %v, want ErrClosed", err)
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPipeCloseInOneProcess: with no other process involved, closing one
// end closes the pipe, as Python's a.close(); b.send(x) fails.
func TestPipeCloseInOneProcess(t *testing.T) {
	r := qRegion(t, 4<<20)
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := b.Send(qCtx(t), []byte("x")); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Send after the other end closed = %v", err)
	}
	b.Close()
}

// pyEchoBytes echoes messages until an empty one, then closes its end.
var pyEchoBytes = spawn.Register("queue.pyEchoBytes", func(ctx context.Context, h queue.PipeHandle) (struct{}, error) {
	p, err := queue.OpenPipe(h)
	if err != nil {
		return struct{}{}, err
	}
	defer p.Close()
	for {
		m, err := p.Recv(ctx)
		if err != nil || len(m) == 0 {
			return struct{}{}, err
		}
		if err := p.Send(ctx, m); err != nil {
			return struct{}{}, err
		}
	}
})

// TestShutdownImmediateAfterClose: an immediate shutdown of a closed queue
// still drops what is queued, and returns nil.
func TestShutdownImmediateAfterClose(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	q, err := queue.New(r, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	q.Put(ctx, []byte("a"))
	q.Put(ctx, []byte("b"))
	q.Close()
	if err := q.Shutdown(true); err != nil || q.Len() != 0 {
		t.Fatalf("Shutdown(true) after Close = %v, Len %d", err, q.Len())
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrShutDown) {
		t.Fatalf("Get = %v", err)
	}
}

// TestPipeOfParentClosesChildEnd: the same idiom on a typed pipe.
func TestPipeOfParentClosesChildEnd(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 4<<20)
	a, b, err := queue.NewPipeOf[pyMsg](r, queue.Config{}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pyEchoOf.Start(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // the parent's copy
	if err := a.Send(ctx, pyMsg{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if m, err := a.Recv(ctx); err != nil || m.Name != "xx" {
		t.Fatalf("echo = %+v, %v", m, err)
	}
	a.Close()
	if n, err := p.Wait(ctx); n != 1 || err != nil {
		t.Fatal(n, err)
	}
}
