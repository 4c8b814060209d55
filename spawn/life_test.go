//go:build unix

package spawn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// childrenOf lists the processes whose parent is pid, with their state
// letter ("1234 S"), read from /proc. A zombie shows as "Z".
func itoa(n int) string { return strconv.Itoa(n) }

func childrenOf(pid int) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+" "+f[0])
		}
	}
	return out
}

// noChildrenLeft fails t if this process has a child, running or zombie.
// Reaping runs in a goroutine, so it gets a moment.
func noChildrenLeft(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		kids := childrenOf(os.Getpid())
		if len(kids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("children left behind: %v", kids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- children and grandchildren die with their parent ----

// treeArg tells the processes of a tree where to record their pids and how
// to start their children.
type treeArg struct {
	Pids shm.Handle // [0,1]: the branches' pids; [2,3]: the leaves'
	Slot int64
	Mode int64 // 0: both mechanisms; 1: Pdeathsig only; 2: pipe EOF only
}

func modeOptions(mode int64) []spawn.Option {
	switch mode {
	case 1:
		return []spawn.Option{spawn.WithoutPipeWatch()}
	case 2:
		return []spawn.Option{spawn.WithoutPdeathsig()}
	}
	return nil
}

// treeRoot is the parent that the test SIGKILLs: it starts two branches,
// each of which starts a leaf, and sleeps.
var treeRoot = spawn.Register("spawn.treeRoot", func(ctx context.Context, a treeArg) (struct{}, error) {
	pids, err := shm.OpenArray[int64](a.Pids)
	if err != nil {
		return struct{}{}, err
	}
	for i := range int64(2) {
		b := a
		b.Slot = i
		p, err := treeBranch.Start(ctx, b, append(modeOptions(a.Mode), spawn.Share(pids.Region()))...)
		if err != nil {
			return struct{}{}, err
		}
		pids.Set(int(i), int64(p.Pid()))
	}
	<-ctx.Done()
	return struct{}{}, nil
})

var treeBranch = spawn.Register("spawn.treeBranch", func(ctx context.Context, a treeArg) (struct{}, error) {
	pids, err := shm.OpenArray[int64](a.Pids)
	if err != nil {
		return struct{}{}, err
	}
	p, err := sleeping.Start(ctx, time.Hour, modeOptions(a.Mode)...)
	if err != nil {
		return struct{}{}, err
	}
	pids.Set(int(2+a.Slot), int64(p.Pid()))
	<-ctx.Done()
	return struct{}{}, nil
})

func TestParentKilledTreeDies(t *testing.T) {
	for _, c := range []struct {
		name string
		mode int64
	}{{"both", 0}, {"pdeathsig-only", 1}, {"pipe-eof-only", 2}} {
		t.Run(c.name, func(t *testing.T) {
			r, err := shm.New(4096)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			pids, err := shm.NewArray[int64](r, 4)
			if err != nil {
				t.Fatal(err)
			}
			root, err := treeRoot.Start(ctxT(t), treeArg{Pids: pids.Handle(), Mode: c.mode}, spawn.Share(r))
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			var ids []proc.ID
			deadline := time.Now().Add(20 * time.Second)
			for len(ids) < 4 {
				ids = ids[:0]
				for _, pid := range pids.Slice() {
					if pid != 0 {
						if st, err := proc.StartTime(int(pid)); err == nil {
							ids = append(ids, proc.ID{Pid: int32(pid), Start: st})
						}
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("tree not up: pids %v", pids.Slice())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := syscall.Kill(root.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			for _, id := range ids {
				for proc.Alive(id) {
					if time.Since(killed) > time.Second {
						t.Fatalf("pid %d still alive 1 s after its ancestor was SIGKILLed (pids %v)", id.Pid, pids.Slice())
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			t.Logf("tree of 4 gone %v after the SIGKILL", time.Since(killed).Round(time.Millisecond))
			if _, err := root.Wait(ctxT(t)); err == nil {
				t.Fatal("killed root reported success")
			}
			if code, _ := root.ExitCode(); code != -9 {
				t.Fatalf("root exit code %d, want -9", code)
			}
		})
	}
	noChildrenLeft(t)
}

// ---- terminate, stop, close ----

// termArg is the argument of terminable.
type termArg struct {
	Ready    string // the child creates this file once a SIGTERM cancels its context
	Stubborn bool   // the function ignores its context (sleeps an hour)
}

// terminable tells the test, by creating a.Ready, that it runs its function
// and watches for SIGTERM: from then on a SIGTERM cancels its context. Before
// that, during start-up and the first watchDelay (5 ms) of the function, a
// SIGTERM kills it outright (doc.go's caveats). An emulated child (qemu) may
// take a second to get there; the test waits for the file, not for a time.
var terminable = spawn.Register("spawn.terminable", func(ctx context.Context, a termArg) (struct{}, error) {
	if err := awaitWatching(); err != nil {
		return struct{}{}, err
	}
	if err := os.WriteFile(a.Ready, nil, 0o600); err != nil {
		return struct{}{}, err
	}
	if a.Stubborn {
		time.Sleep(time.Hour) // ignores its context
	} else {
		<-ctx.Done()
	}
	return struct{}{}, nil
})

// awaitWatching, in a child, waits until the child watches for SIGTERM.
func awaitWatching() error {
	select {
	case <-spawn.WatchingSIGTERM():
		return nil
	case <-time.After(60 * time.Second):
		return errors.New("the child did not watch for SIGTERM within 60 s")
	}
}

// startTerminable starts terminable and waits until a SIGTERM cancels its
// function's context.
func startTerminable(t *testing.T, stubborn bool, opts ...spawn.Option) *spawn.Process[struct{}] {
	t.Helper()
	ready := t.TempDir() + "/ready"
	p, err := terminable.Start(ctxT(t), termArg{Ready: ready, Stubborn: stubborn}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	waitAttached(t, p)
	waitFor(t, p, "create "+ready, func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	return p
}

func TestTerminate(t *testing.T) {
	// A grace no slow machine runs out of: the function returns, in time.
	p := startTerminable(t, false, spawn.TerminateGrace(time.Minute))
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	// The function saw its context end and returned: its result comes
	// back, and the exit code says SIGTERM.
	if _, err := p.Wait(ctxT(t)); err != nil {
		t.Fatalf("Wait after Terminate = %v, want the function's nil error", err)
	}
	if code, _ := p.ExitCode(); code != -15 {
		t.Fatalf("exit code %d, want -15", code)
	}
	if err := p.Terminate(); err != nil {
		t.Fatalf("Terminate of an exited child = %v, want nil", err)
	}
}

func TestStopEscalates(t *testing.T) {
	// The child's own grace must not end it before Stop's SIGKILL does.
	p := startTerminable(t, true, spawn.TerminateGrace(time.Hour))
	start := time.Now()
	if err := p.Stop(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("Stop returned after %v: the function ignores SIGTERM, so it needed the SIGKILL", d)
	}
	if code, _ := p.ExitCode(); code != -9 {
		t.Fatalf("exit code %d, want -9", code)
	}
}

// TestProcess_terminate mirrors CPython's test_terminate: Python's idiom
// `p.terminate(); p.join()` ends a child whatever its function does. Here
// the function ignores its context: the child dies of the SIGTERM after
// the grace, and Wait returns an *ExitError with -15.
func TestProcess_terminate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []spawn.Option
	}{
		{"default grace", nil},
		{"no grace", []spawn.Option{spawn.TerminateGrace(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startTerminable(t, true, tc.opts...)
			if err := p.Terminate(); err != nil {
				t.Fatal(err)
			}
			_, err := p.Wait(ctxT(t))
			var ee *spawn.ExitError
			if !errors.As(err, &ee) || ee.ExitCode != -15 {
				t.Fatalf("Wait after Terminate = %v, want an *ExitError with exit code -15", err)
			}
			if code, _ := p.ExitCode(); code != -15 {
				t.Fatalf("exit code %d, want -15", code)
			}
		})
	}
}

// waitAttached waits until p's child has attached: it read its request and
// is about to call its function. It does not mean the child watches for
// SIGTERM yet (see terminable).
func waitAttached[R any](t *testing.T, p *spawn.Process[R]) {
	t.Helper()
	waitFor(t, p, "attach", func() bool { return spawn.Attached(p) })
}

// waitFor polls cond every millisecond until it holds; it fails the test
// when p's child exits first, or after 30 s.
func waitFor[R any](t *testing.T, p *spawn.Process[R], what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case <-p.Done():
			_, err := p.Wait(context.Background())
			t.Fatalf("child %d exited while the test waited for it to %s: %v", p.Pid(), what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d did not %s within 30 s", p.Pid(), what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseKillsAndReaps(t *testing.T) {
	p, err := sleeping.Start(ctxT(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Pid()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.Alive() {
		t.Fatal("alive after Close")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Fatalf("pid %d still in /proc after Close (zombie?)", pid)
	}
	if err := p.Kill(); !errors.Is(err, spawn.ErrClosed) {
		t.Fatalf("Kill after Close = %v, want ErrClosed", err)
	}
	if err := p.Start(ctxT(t)); !errors.Is(err, spawn.ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// ---- bad input ----

func TestStartTwice(t *testing.T) {
	p := square.New(5)
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctxT(t)); !errors.Is(err, spawn.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	if v, err := p.Wait(ctxT(t)); err != nil || v != 25 {
		t.Fatalf("Wait = %d, %v", v, err)
	}
	if err := p.Start(ctxT(t)); !errors.Is(err, spawn.ErrStarted) {
		t.Fatalf("Start after exit = %v, want ErrStarted", err)
	}
}

func TestNeverStarted(t *testing.T) {
	p := square.New(5)
	start := time.Now()
	if _, err := p.Wait(context.Background()); !errors.Is(err, spawn.ErrNotStarted) {
		t.Fatalf("Wait = %v, want ErrNotStarted", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("Wait on a never-started process blocked")
	}
	if err := p.Kill(); !errors.Is(err, spawn.ErrNotStarted) {
		t.Fatalf("Kill = %v, want ErrNotStarted", err)
	}
	if err := p.Terminate(); !errors.Is(err, spawn.ErrNotStarted) {
		t.Fatalf("Terminate = %v, want ErrNotStarted", err)
	}
	if p.Alive() || p.Pid() != 0 {
		t.Fatal("a never-started process looks alive")
	}
	if _, exited := p.ExitCode(); exited {
		t.Fatal("a never-started process has an exit code")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownFunctionInChild(t *testing.T) {
	p, err := spawn.StartUnknown(square, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait(ctxT(t))
	if !errors.Is(err, spawn.ErrNotRegistered) || !strings.Contains(err.Error(), "no.such.Function") {
		t.Fatalf("Wait = %v, want ErrNotRegistered naming the function", err)
	}
}

func TestExitBeforeAttach(t *testing.T) {
	p, err := square.Start(ctxT(t), 2, spawn.Env("SPAWN_TEST_EXIT_EARLY=5"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait(ctxT(t))
	var ee *spawn.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 5 || ee.Attached || !strings.Contains(err.Error(), "spawn.Main") {
		t.Fatalf("Wait = %v, want an ExitError (code 5, not attached) pointing at spawn.Main", err)
	}
	// An argument larger than a pipe's buffer: Start is still writing
	// when the child exits, and must fail, not hang.
	big := strings.Repeat("x", 1<<20)
	_, err = greet.Start(ctxT(t), big, spawn.Env("SPAWN_TEST_EXIT_EARLY=6"))
	if err == nil || !strings.Contains(err.Error(), "send request") {
		t.Fatalf("Start with a big argument to a dying child = %v, want a send error", err)
	}
	noChildrenLeft(t)
}

func TestBigArgumentTravels(t *testing.T) {
	big := strings.Repeat("y", 3<<20)
	got, err := greet.Run(ctxT(t), big)
	if err != nil || len(got) != len("hello, ")+len(big) {
		t.Fatalf("greet(3 MiB) = %d bytes, %v", len(got), err)
	}
}

type withChan struct {
	Name string
	Jobs chan int
}

var chanStruct = spawn.Register("spawn.chanStruct", func(ctx context.Context, w withChan) (int, error) { return 0, nil })

func TestUnencodableArgumentNamed(t *testing.T) {
	_, err := chanStruct.Start(ctxT(t), withChan{Name: "a"})
	if !errors.Is(err, spawn.ErrEncode) || !strings.Contains(err.Error(), "argument.Jobs") {
		t.Fatalf("Start = %v, want ErrEncode naming argument.Jobs", err)
	}
}

// ---- errors across the boundary ----

var errOutOfStock = errors.New("out of stock")

func init() { spawn.RegisterError(errOutOfStock) }

var erring = spawn.Register("spawn.erring", func(ctx context.Context, kind string) (struct{}, error) {
	switch kind {
	case "open":
		_, err := os.Open("/no/such/file/here")
		return struct{}{}, fmt.Errorf("load config: %w", err)
	case "stock":
		return struct{}{}, fmt.Errorf("order 7: %w", errOutOfStock)
	case "joined":
		return struct{}{}, errors.Join(context.DeadlineExceeded, io.ErrUnexpectedEOF)
	case "panic-error":
		panic(fmt.Errorf("wrapped: %w", fs.ErrPermission))
	}
	return struct{}{}, errors.New("plain")
})

func TestSentinelErrorsCross(t *testing.T) {
	_, err := erring.Run(ctxT(t), "open")
	var errno syscall.Errno
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &errno) || errno != syscall.ENOENT {
		t.Fatalf("open error %v: Is(ErrNotExist) / As(Errno) failed", err)
	}
	var ce *spawn.ChildError
	if !errors.As(err, &ce) || ce.Type != "*fmt.wrapError" || !strings.Contains(ce.Message, "/no/such/file/here") {
		t.Fatalf("ChildError = %#v", ce)
	}
	if _, err := erring.Run(ctxT(t), "stock"); !errors.Is(err, errOutOfStock) {
		t.Fatalf("%v: want errors.Is(errOutOfStock)", err)
	}
	_, err = erring.Run(ctxT(t), "joined")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%v: want both joined sentinels", err)
	}
	_, err = erring.Run(ctxT(t), "panic-error")
	if !errors.Is(err, fs.ErrPermission) || !errors.As(err, &ce) || !ce.Panicked {
		t.Fatalf("%v: want a panic that Is ErrPermission", err)
	}
	_, err = erring.Run(ctxT(t), "plain")
	if errors.Is(err, errOutOfStock) || errors.Unwrap(err) != nil || !strings.Contains(err.Error(), "plain") {
		t.Fatalf("%v: a plain error matched a sentinel", err)
	}
}

// ---- codec ----

type order struct {
	Items map[string]int
	Note  string
}

var totalJSON = spawn.Register("spawn.totalJSON", func(ctx context.Context, o order) (map[string]int, error) {
	n := 0
	for _, v := range o.Items {
		n += v
	}
	return map[string]int{"total": n, "notes": len(o.Note)}, nil
}, spawn.WithCodec(spawn.JSON))

func TestJSONCodec(t *testing.T) {
	got, err := totalJSON.Run(ctxT(t), order{Items: map[string]int{"a": 2, "b": 3}, Note: "xy"})
	if err != nil || got["total"] != 5 || got["notes"] != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
}

// ---- output ----

var printing = spawn.Register("spawn.printing", func(ctx context.Context, s string) (struct{}, error) {
	fmt.Print(s)
	fmt.Fprint(os.Stderr, "err:"+s)
	return struct{}{}, nil
})

func TestOutputCapture(t *testing.T) {
	var out, errb bytes.Buffer
	if _, err := printing.Run(ctxT(t), "one\ntwo", spawn.Stdout(&out), spawn.Stderr(&errb)); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\ntwo" || errb.String() != "err:one\ntwo" {
		t.Fatalf("captured %q / %q", out.String(), errb.String())
	}
}

// linesArg asks printLines for Lines lines, each naming Child.
type linesArg struct{ Child, Lines int }

var printLines = spawn.Register("spawn.printLines", func(ctx context.Context, a linesArg) (struct{}, error) {
	pad := strings.Repeat("x", 200)
	for i := range a.Lines {
		fmt.Printf("child %d line %d %s\n", a.Child, i, pad) // one write each
	}
	return struct{}{}, nil
})

// TestOutputSharedWriter: several children writing to one plain
// *bytes.Buffer (as spawn.Stdout's doc suggests, and as a pool's workers do
// through pool.WorkerOptions) lose no line and mix none, and the buffer is
// complete once every Wait returned. Run it with -race too: the copying
// goroutines of the children must not write to the buffer at once.
func TestOutputSharedWriter(t *testing.T) {
	const children, lines = 8, 100
	var out bytes.Buffer
	var ps []*spawn.Process[struct{}]
	for c := range children {
		p, err := printLines.Start(ctxT(t), linesArg{Child: c, Lines: lines}, spawn.Stdout(&out))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if _, err := p.Wait(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	pad := strings.Repeat("x", 200)
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var c, i int
		if n, err := fmt.Sscanf(l, "child %d line %d", &c, &i); n != 2 || err != nil ||
			l != fmt.Sprintf("child %d line %d %s", c, i, pad) || seen[l] {
			t.Fatalf("line %.60q... is not one whole line of one child, or came twice", l)
		}
		seen[l] = true
	}
	if len(seen) != children*lines {
		t.Fatalf("%d lines, want %d", len(seen), children*lines)
	}
}

// withStdout runs f with os.Stdout redirected and returns what was written.
func withStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	var got []byte
	done := make(chan struct{})
	go func() { got, _ = io.ReadAll(r); close(done) }()
	f()
	os.Stdout = old
	w.Close()
	<-done
	r.Close()
	return string(got)
}

func TestOutputInheritedAndPrefixed(t *testing.T) {
	got := withStdout(t, func() {
		if _, err := printing.Run(ctxT(t), "plain\n", spawn.Stderr(io.Discard)); err != nil {
			t.Error(err)
		}
	})
	if got != "plain\n" {
		t.Fatalf("inherited stdout = %q", got)
	}
	got = withStdout(t, func() {
		if _, err := printing.Run(ctxT(t), "a\nb", spawn.Prefix(""), spawn.Name("w1"), spawn.Stderr(io.Discard)); err != nil {
			t.Error(err)
		}
		if _, err := printing.Run(ctxT(t), "c\n", spawn.Prefix("> "), spawn.Stderr(io.Discard)); err != nil {
			t.Error(err)
		}
	})
	if got != "[w1] a\n[w1] b\n> c\n" {
		t.Fatalf("prefixed stdout = %q", got)
	}
}

// ---- logging ----

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogHook(t *testing.T) {
	var buf syncBuffer
	spawn.SetLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer spawn.SetLogger(nil)
	if _, err := square.Run(ctxT(t), 3, spawn.Name("logged")); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.Contains(s, "started") || !strings.Contains(s, "exited") || !strings.Contains(s, "name=logged") {
		t.Fatalf("log = %q", s)
	}
	spawn.SetLogger(nil)
	buf = syncBuffer{}
	square.Run(ctxT(t), 3)
	if buf.String() != "" {
		t.Fatalf("silenced logger wrote %q", buf.String())
	}
}

// ---- waiting on several ----

func TestWaitAny(t *testing.T) {
	if got, err := spawn.WaitAny(ctxT(t)); got != nil || err != nil {
		t.Fatalf("WaitAny() = %v, %v", got, err)
	}
	var ps []*spawn.Process[struct{}]
	for _, d := range []time.Duration{time.Hour, 50 * time.Millisecond, time.Hour} {
		p, err := sleeping.Start(ctxT(t), d)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ps = append(ps, p)
	}
	ready, err := spawn.WaitAny(ctxT(t), ps[0], ps[1], ps[2])
	if err != nil || len(ready) != 1 || ready[0] != ps[1] {
		t.Fatalf("WaitAny = %v, %v; want the short sleeper", ready, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := spawn.WaitAny(ctx, ps[0], ps[2]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAny = %v, want DeadlineExceeded", err)
	}
	ps[0].Kill()
	ps[2].Kill()
	<-ps[0].Done()
	<-ps[2].Done()
	ready, _ = spawn.WaitAny(ctxT(t), ps[0], ps[1], ps[2])
	if len(ready) != 3 {
		t.Fatalf("WaitAny after all exited = %d ready, want 3", len(ready))
	}
}

// ---- the process tree: names, parents, daemons, nesting ----

type who struct {
	Name, Func, ParentName string
	ParentPid              int
	ParentAlive, Daemon    bool
	ChildName              string // the name of a child this one started
	ChildParent            string // what that child saw as its parent
}

var whoami = spawn.Register("spawn.whoami", func(ctx context.Context, depth int) (who, error) {
	me := spawn.CurrentProcess()
	parent, ok := spawn.ParentProcess()
	if !ok {
		return who{}, errors.New("no parent in a spawned process")
	}
	w := who{Name: me.Name, Func: me.Func, ParentName: parent.Name, ParentPid: parent.Pid,
		ParentAlive: parent.Alive(), Daemon: me.Daemon}
	if depth > 0 {
		p, err := whoamiRef.Start(ctx, depth-1)
		if err != nil {
			return w, err
		}
		sub, err := p.Wait(ctx)
		if err != nil {
			return w, err
		}
		w.ChildName, w.ChildParent = sub.Name, sub.ParentName
	}
	return w, nil
})

// whoamiRef breaks the initialization cycle of a function that starts itself.
var whoamiRef *spawn.Func[int, who]

func init() { whoamiRef = whoami }

func TestProcessTree(t *testing.T) {
	if me := spawn.CurrentProcess(); me.Name != "MainProcess" || me.Pid != os.Getpid() || !me.Alive() {
		t.Fatalf("CurrentProcess = %+v", me)
	}
	if _, ok := spawn.ParentProcess(); ok {
		t.Fatal("the test process has a spawned parent?")
	}
	p := whoami.New(1, spawn.Daemon())
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	w, err := p.Wait(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != p.Name() || !strings.HasPrefix(w.Name, "Process-") || w.ParentName != "MainProcess" ||
		w.ParentPid != os.Getpid() || !w.ParentAlive || !w.Daemon || w.Func != whoami.Name() {
		t.Fatalf("child saw %+v (process %q)", w, p.Name())
	}
	// Nested spawning: the grandchild is named under its parent, Python-style.
	if w.ChildName != w.Name[len("Process-"):] && w.ChildName != w.Name+":1" && !strings.HasPrefix(w.ChildName, w.Name+":") {
		t.Fatalf("grandchild named %q under %q", w.ChildName, w.Name)
	}
	if w.ChildParent != w.Name {
		t.Fatalf("grandchild saw parent %q, want %q", w.ChildParent, w.Name)
	}
	q := whoami.New(0, spawn.Name("custom"))
	if q.Name() != "custom" {
		t.Fatalf("Name = %q", q.Name())
	}
}

func TestActiveChildren(t *testing.T) {
	a, err := sleeping.Start(ctxT(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := square.Start(ctxT(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sleeping.Start(ctxT(t), time.Hour, spawn.Name("third"))
	if err != nil {
		t.Fatal(err)
	}
	b.Wait(ctxT(t))
	got := spawn.ActiveChildren()
	if len(got) != 2 || got[0] != spawn.Child(a) || got[1] != spawn.Child(c) || got[1].Name() != "third" {
		t.Fatalf("ActiveChildren = %v, want [a c]", got)
	}
	for _, ch := range got {
		if err := ch.Kill(); err != nil {
			t.Fatal(err)
		}
		<-ch.Done()
	}
	if got := spawn.ActiveChildren(); len(got) != 0 {
		t.Fatalf("ActiveChildren after kill = %v", got)
	}
}

type familyArg struct {
	Marks shm.Handle // [0]: set by the ordinary child when done; [1]: the daemon's pid
}

var markLater = spawn.Register("spawn.markLater", func(ctx context.Context, h shm.Handle) (struct{}, error) {
	marks, err := shm.OpenArray[int64](h)
	if err != nil {
		return struct{}{}, err
	}
	time.Sleep(300 * time.Millisecond)
	marks.Set(0, 1)
	return struct{}{}, nil
})

// family starts an ordinary and a daemon child and returns at once: at its
// exit, the ordinary child must be waited for and the daemon terminated.
var family = spawn.Register("spawn.family", func(ctx context.Context, a familyArg) (struct{}, error) {
	marks, err := shm.OpenArray[int64](a.Marks)
	if err != nil {
		return struct{}{}, err
	}
	if _, err := markLater.Start(ctx, a.Marks, spawn.Share(marks.Region())); err != nil {
		return struct{}{}, err
	}
	d, err := sleeping.Start(ctx, time.Hour, spawn.Daemon())
	if err != nil {
		return struct{}{}, err
	}
	marks.Set(1, int64(d.Pid()))
	return struct{}{}, nil
})

func TestDaemonAndOrdinaryAtChildExit(t *testing.T) {
	r, err := shm.New(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	marks, err := shm.NewArray[int64](r, 2)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := family.Run(ctxT(t), familyArg{Marks: marks.Handle()}, spawn.Share(r)); err != nil {
		t.Fatal(err)
	}
	if marks.Slice()[0] != 1 {
		t.Fatalf("the ordinary grandchild was not waited for (%v after start)", time.Since(start))
	}
	if pid := marks.Slice()[1]; pid == 0 {
		t.Fatal("no daemon pid")
	} else if _, err := os.Stat("/proc/" + strconv.FormatInt(pid, 10) + "/stat"); err == nil {
		if st, err := proc.StartTime(int(pid)); err == nil && proc.Alive(proc.ID{Pid: int32(pid), Start: st}) {
			t.Fatalf("daemon grandchild %d outlived its parent", pid)
		}
	}
}

func TestShutdown(t *testing.T) {
	// Shutdown acts on every child of the process: earlier tests must have
	// left none.
	for _, c := range spawn.ActiveChildren() {
		t.Fatalf("a child of an earlier test still runs: %s (pid %d, %s)", c.Name(), c.Pid(), c.Func())
	}
	d, err := sleeping.Start(ctxT(t), time.Hour, spawn.Daemon())
	if err != nil {
		t.Fatal(err)
	}
	o, err := sleeping.Start(ctxT(t), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitAttached(t, d)
	if err := spawn.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if code, ok := o.ExitCode(); !ok || code != 0 {
		t.Fatalf("ordinary child: exit %d, %v; want 0 (waited for)", code, ok)
	}
	if code, ok := d.ExitCode(); !ok || code != -15 {
		t.Fatalf("daemon child: exit %d, %v; want -15 (terminated)", code, ok)
	}
	// An ordinary child that outlasts the context is killed, with an error.
	long, err := sleeping.Start(ctxT(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := spawn.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if code, ok := long.ExitCode(); !ok || code != -9 {
		t.Fatalf("long child: exit %d, %v; want -9", code, ok)
	}
}

func TestCPUCount(t *testing.T) {
	if n := spawn.CPUCount(); n < 1 || n > runtime.NumCPU() {
		t.Fatalf("CPUCount = %d, NumCPU = %d", n, runtime.NumCPU())
	}
}

func TestCPUCountHonoursAffinity(t *testing.T) {
	taskset, err := exec.LookPath("taskset")
	if err != nil || runtime.NumCPU() < 2 {
		t.Skip("needs taskset and 2 CPUs")
	}
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(taskset, "-c", "0", self)
	cmd.Env = append(os.Environ(), "SPAWN_TEST_PRINT_CPUS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("taskset: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "1" {
		t.Fatalf("CPUCount under taskset -c 0 = %s, want 1", got)
	}
}

// ---- no leaks ----

func TestNoFDOrGoroutineLeak(t *testing.T) {
	square.Run(ctxT(t), 1) // warm up: the starter thread, the pools
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	fd0, g0 := fds(), runtime.NumGoroutine()
	for i := range 10 {
		if _, err := square.Run(ctxT(t), i); err != nil {
			t.Fatal(err)
		}
		p, _ := sleeping.Start(ctxT(t), time.Hour)
		p.Close()
	}
	time.Sleep(50 * time.Millisecond)
	if fd1, g1 := fds(), runtime.NumGoroutine(); fd1 > fd0 || g1 > g0+1 {
		t.Fatalf("fds %d -> %d, goroutines %d -> %d", fd0, fd1, g0, g1)
	}
	noChildrenLeft(t)
}

func TestZeroProcess(t *testing.T) {
	var p spawn.Process[int]
	if err := p.Start(ctxT(t)); err == nil {
		t.Fatal("a zero Process started")
	}
	if _, err := p.Wait(ctxT(t)); !errors.Is(err, spawn.ErrNotStarted) {
		t.Fatalf("Wait = %v", err)
	}
	if err := p.Kill(); !errors.Is(err, spawn.ErrNotStarted) {
		t.Fatalf("Kill = %v", err)
	}
}

var badResult = spawn.Register("spawn.badResult", func(ctx context.Context, _ int) (withChan, error) {
	return withChan{Name: "x", Jobs: make(chan int)}, nil
})

func TestUnencodableResultComesBackAsError(t *testing.T) {
	_, err := badResult.Run(ctxT(t), 1)
	var ce *spawn.ChildError
	if !errors.Is(err, spawn.ErrEncode) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "result.Jobs") {
		t.Fatalf("Run = %v, want a ChildError that Is ErrEncode and names result.Jobs", err)
	}
}
