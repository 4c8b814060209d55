//go:build unix

package spawn_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func TestMain(m *testing.M) {
	// A child binary that exits before it attaches (TestExitBeforeAttach).
	if code := os.Getenv("SPAWN_TEST_EXIT_EARLY"); code != "" {
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	// TestCPUCountHonoursAffinity runs this binary under taskset.
	if os.Getenv("SPAWN_TEST_PRINT_CPUS") != "" {
		fmt.Println(spawn.CPUCount())
		os.Exit(0)
	}
	// The same binary doing nothing: the exec baseline of BenchmarkStartExit.
	if os.Getenv("SPAWN_TEST_NOOP") != "" {
		os.Exit(0)
	}
	spawn.Main()
	code := m.Run()
	// No test may leave a child behind, running or zombie.
	if kids := childrenOf(os.Getpid()); len(kids) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: children left behind after the tests: %v\n", kids)
		for _, c := range spawn.ActiveChildren() {
			fmt.Fprintf(os.Stderr, "\t%s pid %d running %s\n", c.Name(), c.Pid(), c.Func())
		}
		code = 1
	}
	os.Exit(code)
}

type fillArg struct {
	Array shm.Handle
	Seed  uint64
}

// fill writes a pattern the parent can check into a shared array.
var fill = spawn.Register("spawn.fill", func(ctx context.Context, a fillArg) (int, error) {
	arr, err := shm.OpenArray[uint64](a.Array)
	if err != nil {
		return 0, err
	}
	s := arr.Slice()
	for i := range s {
		s[i] = a.Seed*uint64(i) + 7
	}
	return len(s), nil
})

var square = spawn.Register("spawn.square", func(ctx context.Context, x int) (int, error) { return x * x, nil })

var greet = spawn.Register("spawn.greet", func(ctx context.Context, name string) (string, error) {
	return "hello, " + name, nil
})

var failing = spawn.Register("spawn.failing", func(ctx context.Context, msg string) (struct{}, error) {
	return struct{}{}, errors.New(msg)
})

var panicking = spawn.Register("spawn.panicking", func(ctx context.Context, msg string) (struct{}, error) {
	panic(msg)
})

var exiting = spawn.Register("spawn.exiting", func(ctx context.Context, code int) (struct{}, error) {
	os.Exit(code)
	return struct{}{}, nil
})

var sleeping = spawn.Register("spawn.sleeping", func(ctx context.Context, d time.Duration) (struct{}, error) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return struct{}{}, nil
})

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestChildWritesArrayParentReads(t *testing.T) {
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	arr, err := shm.NewArray[uint64](r, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n, err := fill.Run(ctxT(t), fillArg{Array: arr.Handle(), Seed: 13}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Fatalf("child saw %d elements, want 1000", n)
	}
	for i, v := range arr.Slice() {
		if want := 13*uint64(i) + 7; v != want {
			t.Fatalf("element %d = %d, want %d", i, v, want)
		}
	}
}

func TestResultsTravel(t *testing.T) {
	if got, err := square.Run(ctxT(t), 12); err != nil || got != 144 {
		t.Fatalf("square(12) = %d, %v", got, err)
	}
	if got, err := greet.Run(ctxT(t), "gopher"); err != nil || got != "hello, gopher" {
		t.Fatalf("greet = %q, %v", got, err)
	}
}

func TestChildErrorComesBack(t *testing.T) {
	_, err := failing.Run(ctxT(t), "disk on fire")
	var ce *spawn.ChildError
	if !errors.As(err, &ce) || ce.Message != "disk on fire" || ce.Panicked || ce.Pid == 0 {
		t.Fatalf("err = %#v, want a ChildError with the message", err)
	}
}

func TestChildPanicComesBackWithStack(t *testing.T) {
	_, err := panicking.Run(ctxT(t), "boom")
	var ce *spawn.ChildError
	if !errors.As(err, &ce) || !ce.Panicked || ce.Message != "boom" {
		t.Fatalf("err = %v, want a panic ChildError", err)
	}
	if !strings.Contains(ce.Stack, "spawn_test") {
		t.Fatalf("stack does not show the panicking function:\n%s", ce.Stack)
	}
}

func TestExitCodeAndSignal(t *testing.T) {
	p, err := exiting.Start(ctxT(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait(ctxT(t))
	var ee *spawn.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || !errors.Is(err, spawn.ErrDied) {
		t.Fatalf("err = %v, want ExitError with code 3", err)
	}
	if code, ok := p.ExitCode(); !ok || code != 3 {
		t.Fatalf("ExitCode = %d, %v", code, ok)
	}

	p, err = sleeping.Start(ctxT(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait(ctxT(t))
	if !errors.As(err, &ee) || ee.ExitCode != -9 {
		t.Fatalf("err = %v, want ExitError with code -9", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill of an exited child = %v, want nil", err)
	}
}

func TestWaitContextLeavesChildRunning(t *testing.T) {
	p, err := sleeping.Start(ctxT(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Kill(); p.Wait(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	if _, exited := p.ExitCode(); exited {
		t.Fatal("child exited when only the wait was cancelled")
	}
}

func TestRunCancelKillsChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sleeping.Run(ctx, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run took %v after cancel", d)
	}
}

func TestClosureRefused(t *testing.T) {
	x := 3
	f := spawn.Register(freshName("spawn.closure"), func(ctx context.Context, y int) (int, error) { return x * y, nil })
	_, err := f.Start(ctxT(t), 2)
	if !errors.Is(err, spawn.ErrClosure) || !strings.Contains(err.Error(), "package scope") {
		t.Fatalf("Start(closure) = %v, want ErrClosure saying what to do", err)
	}
}

func lateRegistered(ctx context.Context, x int) (int, error) { return x, nil }

func TestLateRegistrationRefused(t *testing.T) {
	f := spawn.Register(freshName("spawn.lateRegistered"), lateRegistered)
	_, err := f.Start(ctxT(t), 1)
	if !errors.Is(err, spawn.ErrNotRegistered) || !strings.Contains(err.Error(), "after spawn.Main") {
		t.Fatalf("Start = %v, want ErrNotRegistered", err)
	}
}

// freshName makes a name no other Register call of the test binary uses:
// tests that register inside a function may run more than once (-count).
func freshName(base string) string { return fmt.Sprintf("%s.%d", base, nameSeq.Add(1)) }

var nameSeq atomic.Int64

// registerPanics reports the panic of a Register of name, or "".
func registerPanics(name string) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprint(v)
		}
	}()
	spawn.Register(name, lateRegistered)
	return ""
}

func TestRegisterRefusesBadNames(t *testing.T) {
	// Taken at package scope: chanTask.
	if msg := registerPanics("spawn.chanTask"); !strings.HasPrefix(msg, "forkless/spawn: ") || !strings.Contains(msg, "twice") {
		t.Errorf("a name registered twice: panic %q, want forkless/spawn: ... twice", msg)
	}
	for _, name := range []string{"", "two words", "tab\there", "new\nline", "nul\x00", "bad\xffutf8"} {
		if msg := registerPanics(name); !strings.HasPrefix(msg, "forkless/spawn: ") {
			t.Errorf("Register(%q): panic %q, want forkless/spawn: ...", name, msg)
		}
	}
	// A refused function still takes its name.
	name := freshName("spawn.refused")
	spawn.Register(name, lateRegistered)
	if msg := registerPanics(name); !strings.Contains(msg, "twice") {
		t.Errorf("second registration of a refused function's name: panic %q", msg)
	}
}

func TestFuncName(t *testing.T) {
	if chanTask.Name() != "spawn.chanTask" || chanTask.Codec() != spawn.Gob {
		t.Fatalf("Name %q, Codec %v", chanTask.Name(), chanTask.Codec())
	}
}

func TestUnencodableArgumentRefused(t *testing.T) {
	_, err := chanTask.Start(ctxT(t), make(chan int))
	if !errors.Is(err, spawn.ErrEncode) {
		t.Fatalf("Start(chan) = %v, want ErrEncode", err)
	}
}

func chanFunc(ctx context.Context, c chan int) (int, error) { return 0, nil }

var chanTask = spawn.Register("spawn.chanTask", chanFunc)
