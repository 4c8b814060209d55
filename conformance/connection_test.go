package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/spawn"
)

func must2(t testing.TB) func(a, b *queue.Pipe, err error) (*queue.Pipe, *queue.Pipe) {
	return func(a, b *queue.Pipe, err error) (*queue.Pipe, *queue.Pipe) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

type sendArg struct {
	End queue.PipeHandle
	N   int
}

var (
	// sendCount sends N one-byte messages holding N, then closes its end.
	sendCount = spawn.Register("conformance.sendCount", func(ctx context.Context, a sendArg) (int, error) {
		p, err := queue.OpenPipe(a.End)
		if err != nil {
			return 0, err
		}
		defer p.Close()
		for range a.N {
			if err := p.Send(ctx, []byte{byte(a.N)}); err != nil {
				return 0, err
			}
		}
		return a.N, nil
	})
	// echoUntilClosed sends back every message until the pipe closes.
	echoUntilClosed = spawn.Register("conformance.echoUntilClosed", func(ctx context.Context, h queue.PipeHandle) (int, error) {
		p, err := queue.OpenPipe(h)
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
			if err := p.Send(ctx, m); err != nil {
				return n, err
			}
		}
	})
)

// TestConnection_connection mirrors _TestConnection.test_connection: send,
// recv, send_bytes, recv_bytes_into, poll, and EOF once the peer closed.
func TestConnection_connection(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 64<<20) // room for spill areas: pages cost only once touched
	conn, child := must2(t)(queue.NewPipe(r, queue.Config{}, true))
	p := must[*spawn.Process[int]](t)(echoUntilClosed.Start(ctx, child.Handle(), spawn.Share(r)))
	seq := []byte("1 2.25 None")
	msg := []byte("hello world")
	long := bytes.Repeat([]byte{'X'}, 1<<20+3) // Python: 1 MiB string
	for _, m := range [][]byte{seq, msg, long, {}} {
		if err := conn.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := conn.Recv(ctx)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("echo of %d bytes: %d bytes, %v", len(m), len(got), err)
		}
	}
	buf := make([]byte, 32)
	conn.Send(ctx, msg)
	if n, err := conn.RecvBytesInto(ctx, buf, 8); n != len(msg) || err != nil || !bytes.Equal(buf[8:8+n], msg) {
		t.Fatalf("RecvBytesInto = %d, %v", n, err)
	}
	conn.Send(ctx, long)
	_, err := conn.RecvBytesInto(ctx, buf, 0)
	var short *queue.BufferTooShortError
	if !errors.As(err, &short) || !bytes.Equal(short.Msg, long) {
		t.Fatalf("RecvBytesInto of a long message = %v (BufferTooShort must carry it)", err)
	}
	if ok, err := conn.Poll(0); ok || err != nil {
		t.Fatalf("Poll of an empty pipe = %v, %v", ok, err)
	}
	start := time.Now()
	if ok, _ := conn.Poll(100 * time.Millisecond); ok || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("Poll(100ms) = %v after %v", ok, time.Since(start))
	}
	conn.Send(ctx, msg)
	if ok, err := conn.Poll(-1); !ok || err != nil {
		t.Fatalf("Poll(-1) with an echo coming = %v, %v", ok, err)
	}
	conn.Recv(ctx)
	conn.Close()
	if n, err := p.Wait(ctx); err != nil || n != 7 {
		t.Fatalf("echoes %d, %v", n, err)
	}
	if _, err := conn.Recv(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Recv after close = %v (Python: EOFError/OSError)", err)
	}
	if err := conn.Close(); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

func TestConnection_duplex_false(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	reader, writer := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, false))
	defer reader.Close()
	writer.Send(ctx, []byte("hello"))
	if m, err := reader.Recv(ctx); string(m) != "hello" || err != nil {
		t.Fatalf("one-way pipe: %q, %v", m, err)
	}
	if err := reader.Send(ctx, []byte("x")); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Send on the reading end = %v", err)
	}
	if _, err := writer.Recv(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Recv on the writing end = %v", err)
	}
}

// TestConnection_spawn_close mirrors test_spawn_close: the parent closes
// its copy of the child's end after start, and the child still talks.
func TestConnection_spawn_close(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	conn, child := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	p := must[*spawn.Process[int]](t)(echoUntilClosed.Start(ctx, child.Handle(), spawn.Share(r)))
	child.Close() // Python: child_conn.close() after p.start()
	msg := []byte("after the parent closed its copy of the child's end")
	err := conn.Send(ctx, msg)
	var got []byte
	if err == nil {
		got, err = conn.Recv(ctx)
	}
	conn.Close()
	p.Wait(ctx)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("talking after closing the parent's copy of the child's end: %q, %v", got, err)
	}
}

func TestConnection_sendbytes(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	msg := []byte("abcdefghijklmnopqrstuvwxyz")
	// Python's send_bytes(msg, offset, size): a slice says it in Go.
	for _, c := range [][2]int{{0, 26}, {0, 0}, {10, 16}, {26, 26}, {5, 10}} {
		a.Send(ctx, msg[c[0]:c[1]])
		if m, err := b.Recv(ctx); !bytes.Equal(m, msg[c[0]:c[1]]) || err != nil {
			t.Fatalf("msg[%d:%d]: %q, %v", c[0], c[1], m, err)
		}
	}
}

func TestConnection_context(t *testing.T) {
	r := region(t, 4<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	func() { defer a.Close() }() // Python: with a, b: ...
	if err := b.Send(context.Background(), []byte("x")); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Send after the with-block closed the pipe = %v", err)
	}
	var rw io.ReadWriteCloser = b
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestListener_multiple_bind: a second Listener on a bound address fails.
func TestListener_multiple_bind(t *testing.T) {
	l := must[*queue.Listener](t)(queue.Listen("", queue.Config{Bytes: 4096}))
	defer l.Close()
	if l2, err := queue.Listen(l.Addr(), queue.Config{}); err == nil {
		l2.Close()
		t.Fatal("second Listen on one address succeeded")
	}
}

func TestListener_context(t *testing.T) {
	l := must[*queue.Listener](t)(queue.Listen("", queue.Config{Bytes: 4096}))
	addr := l.Addr()
	l.Close()
	ctx, cancel := context.WithTimeout(tctx(t), time.Second)
	defer cancel()
	if _, err := queue.Dial(ctx, addr); err == nil {
		t.Fatal("Dial of a closed listener succeeded")
	}
}

var dialAndEcho = spawn.Register("conformance.dialAndEcho", func(ctx context.Context, addr string) (int, error) {
	c, err := queue.Dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	m, err := c.Recv(ctx)
	if err != nil {
		return 0, err
	}
	return len(m), c.Send(ctx, m)
})

// TestListenerClient_listener_client: five clients connect, each gets a
// pipe, echoes. (An unrelated process, os/exec and not spawn, is
// queue's TestListenerUnrelatedProcess.)
func TestListenerClient_listener_client(t *testing.T) {
	ctx := tctx(t)
	l := must[*queue.Listener](t)(queue.Listen("", queue.Config{Bytes: 4096}))
	defer l.Close()
	for i := range 3 {
		p := must[*spawn.Process[int]](t)(dialAndEcho.Start(ctx, l.Addr()))
		c, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte{'a'}, i+1)
		c.Send(ctx, msg)
		if m, err := c.Recv(ctx); !bytes.Equal(m, msg) || err != nil {
			t.Fatalf("client %d: %q, %v", i, m, err)
		}
		c.Close()
		if n, err := p.Wait(ctx); n != i+1 || err != nil {
			t.Fatalf("client %d: %d, %v", i, n, err)
		}
	}
}

// TestListenerClient_large_message: a connection carries messages larger
// than its ring (Python's connections have no size limit short of 2 GiB).
func TestListenerClient_large_message(t *testing.T) {
	ctx := tctx(t)
	l := must[*queue.Listener](t)(queue.Listen("", queue.Config{}))
	defer l.Close()
	p := must[*spawn.Process[int]](t)(dialAndEcho.Start(ctx, l.Addr()))
	c, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16+1) // 1 MiB and 16 bytes
	if err := c.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Recv(ctx); !bytes.Equal(m, msg) || err != nil {
		t.Fatalf("echo of %d bytes: %d, %v", len(msg), len(m), err)
	}
	if n, err := p.Wait(ctx); n != len(msg) || err != nil {
		t.Fatal(n, err)
	}
}

type greeting struct {
	Name  string
	Times []int
}

var dialTyped = spawn.Register("conformance.dialTyped", func(ctx context.Context, addr string) (string, error) {
	c, err := queue.Dial(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	tc := queue.WrapPipe[greeting](c.Pipe, nil)
	g, err := tc.Recv(ctx)
	if err != nil {
		return "", err
	}
	g.Times = append(g.Times, len(g.Times))
	return g.Name, tc.Send(ctx, g)
})

// TestListenerClient_send_obj: conn.send(obj) / conn.recv() over a
// Listener connection (queue.WrapPipe on both sides).
func TestListenerClient_send_obj(t *testing.T) {
	ctx := tctx(t)
	l := must[*queue.Listener](t)(queue.Listen("", queue.Config{Bytes: 4096}))
	defer l.Close()
	p := must[*spawn.Process[string]](t)(dialTyped.Start(ctx, l.Addr()))
	c, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := queue.WrapPipe[greeting](c.Pipe, nil)
	if err := tc.Send(ctx, greeting{Name: "bob", Times: []int{7}}); err != nil {
		t.Fatal(err)
	}
	if ready, err := pool.WaitAny(ctx, c, tc); len(ready) != 2 || err != nil { // a Conn and a PipeOf are waitable
		t.Fatalf("WaitAny on the connection = %v, %v", ready, err)
	}
	g, err := tc.Recv(ctx)
	if err != nil || g.Name != "bob" || len(g.Times) != 2 || g.Times[1] != 1 {
		t.Fatalf("typed echo = %+v, %v", g, err)
	}
	if name, err := p.Wait(ctx); name != "bob" || err != nil {
		t.Fatal(name, err)
	}
}

// TestPoll_strings mirrors _TestPoll: poll does not consume, and messages
// are never merged (test_dont_merge) nor lost at size boundaries.
func TestPoll_strings(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	strs := [][]byte{[]byte("hello"), {}, []byte("a"), []byte("b"), {}, []byte("bye"), {}, []byte("lop")}
	for _, s := range strs {
		a.Send(ctx, s)
	}
	for _, s := range strs {
		for range 3 { // polling again must not consume
			if ok, err := b.Poll(time.Second); !ok || err != nil {
				t.Fatalf("Poll = %v, %v", ok, err)
			}
		}
		if m, err := b.Recv(ctx); !bytes.Equal(m, s) || err != nil {
			t.Fatalf("Recv = %q, %v, want %q", m, err, s)
		}
	}
}

func TestPoll_empty_string(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	if ok, _ := b.Poll(0); ok {
		t.Fatal("Poll of an empty pipe")
	}
	a.Send(ctx, nil)
	if ok, _ := b.Poll(0); !ok {
		t.Fatal("Poll misses an empty message")
	}
	if m, err := b.Recv(ctx); len(m) != 0 || err != nil {
		t.Fatalf("empty message = %q, %v", m, err)
	}
}

func TestPoll_boundaries(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 16<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	for _, n := range []int{0, 1, 15, 16, 17, 1000, 2031, 2032, 2033, 4096, 100000} {
		m := bytes.Repeat([]byte{byte(n)}, n)
		if err := a.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Recv(ctx); !bytes.Equal(got, m) || err != nil {
			t.Fatalf("%d bytes: got %d, %v", n, len(got), err)
		}
	}
}

func TestPoll_dont_merge(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	a.Send(ctx, []byte("a"))
	a.Send(ctx, []byte("b"))
	a.Send(ctx, []byte("cd"))
	for _, want := range []string{"a", "b", "cd"} {
		if m, _ := b.Recv(ctx); string(m) != want {
			t.Fatalf("got %q, want %q", m, want)
		}
	}
}

// TestWait_wait_timeout mirrors test_wait_timeout: nothing ready gives an
// empty list at the deadline; a process that exits is ready at once.
func TestWait_wait_timeout(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	start := time.Now()
	got, err := queue.WaitTimeout(100*time.Millisecond, a)
	if len(got) != 0 || err != nil || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("WaitTimeout with nothing ready = %v, %v after %v", got, err, time.Since(start))
	}
	b.Send(ctx, []byte("x"))
	if got, err := queue.WaitTimeout(time.Second, a); len(got) != 1 || err != nil {
		t.Fatalf("WaitTimeout with a message = %v, %v", got, err)
	}
	p := must[*spawn.Process[int]](t)(exitWith.Start(ctx, 0))
	got2, err := pool.WaitAny(ctx, p)
	if len(got2) != 1 || err != nil {
		t.Fatalf("WaitAny on an exiting process = %v, %v", got2, err)
	}
}

// TestWait_neg_timeout: a negative timeout returns at once.
func TestWait_neg_timeout(t *testing.T) {
	r := region(t, 4<<20)
	a, _ := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	if got, err := queue.WaitTimeout(-time.Second, a); len(got) != 0 || err != nil {
		t.Fatalf("WaitTimeout(-1s) = %v, %v", got, err)
	}
}

// TestWait_mixed: connection.wait over a pipe, a queue, a process and a
// future at once (pool.WaitAny).
func TestWait_mixed(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 4<<20)
	a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, true))
	defer a.Close()
	q := must[*queue.Queue](t)(queue.New(r, queue.Config{Bytes: 4096}))
	p := must[*spawn.Process[int]](t)(untilCancelled.Start(ctx, 0))
	pl := must[*pool.Pool](t)(pool.New(ctx, pool.Workers(1)))
	defer pl.Close(ctx)
	f := pool.Submit(pl, square, 3)
	f.Wait(ctx)
	got, err := pool.WaitAny(ctx, a, q, p, f)
	if err != nil || len(got) != 1 || got[0] != any(f) {
		t.Fatalf("WaitAny with a done future = %v, %v", got, err)
	}
	b.Send(ctx, []byte("x"))
	q.Put(ctx, []byte("y"))
	p.Terminate()
	p.Wait(ctx)
	got, err = pool.WaitAny(ctx, a, q, p)
	if err != nil || len(got) != 3 {
		t.Fatalf("WaitAny with everything ready = %v, %v", got, err)
	}
}
