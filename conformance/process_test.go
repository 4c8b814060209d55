package conformance_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/spawn"
)

type procArgs struct {
	A, B int
	S    string
}

var (
	echoArgs = spawn.Register("conformance.echoArgs", func(ctx context.Context, a procArgs) (procArgs, error) {
		a.A, a.B = a.B, a.A
		return a, nil
	})
	whoAmI = spawn.Register("conformance.whoAmI", func(ctx context.Context, _ int) (procWho, error) {
		cur := spawn.CurrentProcess()
		par, ok := spawn.ParentProcess()
		return procWho{Name: cur.Name, Pid: cur.Pid, Func: cur.Func, Daemon: cur.Daemon, ParentPid: par.Pid, HasParent: ok}, nil
	})
	// untilCancelled blocks until its context ends (a Terminate does that).
	untilCancelled = spawn.Register("conformance.untilCancelled", func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	// ignoresContext blocks on a pipe nobody writes, ignoring its context.
	ignoresContext = spawn.Register("conformance.ignoresContext", func(ctx context.Context, _ int) (int, error) {
		r, _, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		var b [1]byte
		r.Read(b[:])
		return 0, nil
	})
	exitWith = spawn.Register("conformance.exitWith", func(ctx context.Context, code int) (int, error) {
		os.Exit(code)
		return 0, nil
	})
	recurse = spawn.Register("conformance.recurse", func(ctx context.Context, depth int) ([]string, error) {
		me := spawn.CurrentProcess().Name
		if depth == 0 {
			return []string{me}, nil
		}
		kids, err := recurseRef.Run(ctx, depth-1)
		return append([]string{me}, kids...), err
	})
	recurseRef *spawn.Func[int, []string]
)

func init() { recurseRef = recurse }

type procWho struct {
	Name      string
	Pid       int
	Func      string
	Daemon    bool
	ParentPid int
	HasParent bool
}

func TestProcess_process(t *testing.T) {
	ctx := tctx(t)
	p := echoArgs.New(procArgs{1, 2, "x"}, spawn.Name("SomeProcess"))
	if p.Alive() {
		t.Fatal("alive before start")
	}
	if _, exited := p.ExitCode(); exited {
		t.Fatal("exit code before start")
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Name() != "SomeProcess" || p.Pid() <= 0 {
		t.Fatalf("name %q pid %d", p.Name(), p.Pid())
	}
	res, err := p.Wait(ctx)
	if err != nil || res != (procArgs{2, 1, "x"}) {
		t.Fatalf("result %+v, %v", res, err)
	}
	if code, exited := p.ExitCode(); !exited || code != 0 || p.Alive() {
		t.Fatalf("exit code %d %v alive %v", code, exited, p.Alive())
	}
}

func TestProcess_args_argument(t *testing.T) {
	ctx := tctx(t)
	for _, a := range []procArgs{{}, {1, 2, ""}, {-5, 7, "a longer string argument"}} {
		res, err := echoArgs.Run(ctx, a)
		if err != nil || res != (procArgs{a.B, a.A, a.S}) {
			t.Fatalf("Run(%+v) = %+v, %v", a, res, err)
		}
	}
}

func TestProcess_daemon_argument(t *testing.T) {
	ctx := tctx(t)
	p := must[*spawn.Process[procWho]](t)(whoAmI.Start(ctx, 0, spawn.Daemon()))
	who, err := p.Wait(ctx)
	if err != nil || !p.Daemon() || !who.Daemon {
		t.Fatalf("daemon: parent says %v, child says %+v, %v", p.Daemon(), who, err)
	}
	q := must[*spawn.Process[procWho]](t)(whoAmI.Start(ctx, 0))
	who, err = q.Wait(ctx)
	if err != nil || q.Daemon() || who.Daemon {
		t.Fatalf("not daemon: parent says %v, child says %+v, %v", q.Daemon(), who, err)
	}
}

func TestProcess_current(t *testing.T) {
	cur := spawn.CurrentProcess()
	if cur.Name != "MainProcess" || cur.Pid != os.Getpid() || cur.Func != "" {
		t.Fatalf("CurrentProcess in the main process = %+v", cur)
	}
	if _, ok := spawn.ParentProcess(); ok {
		t.Fatal("ParentProcess in the main process reports a parent")
	}
}

func TestProcess_parent_process(t *testing.T) {
	ctx := tctx(t)
	who, err := whoAmI.Run(ctx, 0, spawn.Name("kid"))
	if err != nil || !who.HasParent || who.ParentPid != os.Getpid() || who.Name != "kid" || who.Func != whoAmI.Name() {
		t.Fatalf("child's view %+v, %v", who, err)
	}
}

func TestProcess_terminate(t *testing.T) {
	ctx := tctx(t)
	p := must[*spawn.Process[int]](t)(untilCancelled.Start(ctx, 0))
	if !p.Alive() {
		t.Fatal("not alive after start")
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	p.Wait(ctx)
	if code, exited := p.ExitCode(); !exited || code != -int(syscall.SIGTERM) {
		t.Fatalf("exit code %d %v, want -15", code, exited)
	}
	if err := p.Terminate(); err != nil {
		t.Fatalf("Terminate of an exited process = %v, want nil", err)
	}
}

// TestProcess_terminate_ignoring_context: Python's terminate ends the
// process whatever it runs; here the function ignores its context, and the
// child dies of the SIGTERM after the grace (issue 12's idiom).
func TestProcess_terminate_ignoring_context(t *testing.T) {
	ctx := tctx(t)
	p := must[*spawn.Process[int]](t)(ignoresContext.Start(ctx, 0, spawn.TerminateGrace(50e6)))
	p.Terminate()
	_, err := p.Wait(ctx)
	var ee *spawn.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != -int(syscall.SIGTERM) {
		t.Fatalf("Wait after Terminate of a child ignoring its context = %v", err)
	}
}

func TestProcess_kill(t *testing.T) {
	ctx := tctx(t)
	p := must[*spawn.Process[int]](t)(untilCancelled.Start(ctx, 0))
	p.Kill()
	_, err := p.Wait(ctx)
	var ee *spawn.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != -int(syscall.SIGKILL) {
		t.Fatalf("Wait after Kill = %v", err)
	}
	if code, _ := p.ExitCode(); code != -9 {
		t.Fatalf("exit code %d", code)
	}
}

func TestProcess_cpu_count(t *testing.T) {
	if n := spawn.CPUCount(); n < 1 {
		t.Fatalf("CPUCount = %d", n)
	}
}

func TestProcess_active_children(t *testing.T) {
	ctx := tctx(t)
	p := must[*spawn.Process[int]](t)(untilCancelled.Start(ctx, 0))
	has := func() bool {
		return slices.ContainsFunc(spawn.ActiveChildren(), func(c spawn.Child) bool { return c.Pid() == p.Pid() })
	}
	if !has() {
		t.Fatal("a running child is not in ActiveChildren")
	}
	p.Terminate()
	p.Wait(ctx)
	if has() {
		t.Fatal("a reaped child is still in ActiveChildren")
	}
}

func TestProcess_recursion(t *testing.T) {
	ctx := tctx(t)
	names, err := recurse.Run(ctx, 2)
	if err != nil || len(names) != 3 {
		t.Fatalf("three generations = %v, %v", names, err)
	}
}

func TestProcess_sentinel(t *testing.T) {
	ctx := tctx(t)
	p := must[*spawn.Process[int]](t)(untilCancelled.Start(ctx, 0))
	select {
	case <-p.Ready():
		t.Fatal("ready before exit")
	default:
	}
	p.Terminate()
	got, err := spawn.WaitAny(ctx, p)
	if err != nil || len(got) != 1 {
		t.Fatalf("WaitAny = %v, %v", got, err)
	}
}

func TestProcess_close(t *testing.T) {
	ctx := tctx(t)
	p := must[*spawn.Process[int]](t)(untilCancelled.Start(ctx, 0))
	if err := p.Close(); err != nil { // Python refuses close of a live process; forkless kills it
		t.Fatal(err)
	}
	if p.Alive() {
		t.Fatal("alive after Close")
	}
	q := must[*spawn.Process[procArgs]](t)(echoArgs.Start(ctx, procArgs{}))
	q.Wait(ctx)
	if err := q.Close(); err != nil {
		t.Fatalf("Close of an exited process = %v", err)
	}
}

func TestProcess_many_processes(t *testing.T) {
	ctx := tctx(t)
	const n = 8 // Python: 100 (shortened)
	var ps []*spawn.Process[int]
	for range n {
		ps = append(ps, must[*spawn.Process[int]](t)(untilCancelled.Start(ctx, 0)))
	}
	for i, p := range ps {
		if i%2 == 0 {
			p.Terminate()
		} else {
			p.Kill()
		}
	}
	for i, p := range ps {
		p.Wait(ctx)
		code, _ := p.ExitCode()
		if want := []int{-15, -9}[i%2]; code != want {
			t.Fatalf("process %d exit code %d, want %d", i, code, want)
		}
	}
}

// TestSubclassingProcess_sys_exit: sys.exit(n) in the child is os.Exit(n);
// the parent sees an *ExitError with that code (issue 12: os.Exit(0) too).
func TestSubclassingProcess_sys_exit(t *testing.T) {
	ctx := tctx(t)
	for _, code := range []int{0, 1, 8} {
		_, err := exitWith.Run(ctx, code)
		var ee *spawn.ExitError
		if !errors.As(err, &ee) || ee.ExitCode != code || !errors.Is(err, spawn.ErrDied) {
			t.Errorf("os.Exit(%d) in the child: %v", code, err)
		}
	}
}

// TestWait_wait mirrors TestWait.test_wait: connection.wait over the
// readers of several pipes and processes, until each has sent and exited.
func TestWait_wait(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 8<<20)
	var ends []*queue.Pipe
	var procs []*spawn.Process[int]
	for i := range 4 {
		a, b := must2(t)(queue.NewPipe(r, queue.Config{Bytes: 4096}, false))
		defer a.Close()
		ends = append(ends, a)
		procs = append(procs, must[*spawn.Process[int]](t)(sendCount.Start(ctx, sendArg{b.Handle(), i + 1}, spawn.Share(r))))
	}
	got := map[int]int{}
	for len(ends) > 0 {
		var objs []queue.Readable
		for _, e := range ends {
			objs = append(objs, e)
		}
		idx, err := queue.Wait(ctx, objs...)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range idx {
			m, err := ends[i].Recv(ctx)
			if errors.Is(err, queue.ErrClosed) {
				ends[i] = ends[len(ends)-1]
				ends = ends[:len(ends)-1]
				break
			}
			if err != nil {
				t.Fatalf("Recv of a ready pipe: %v", err)
			}
			got[int(m[0])]++
		}
	}
	for _, p := range procs {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 4; i++ {
		if got[i] != i {
			t.Fatalf("messages from sender %d: %d", i, got[i])
		}
	}
}
