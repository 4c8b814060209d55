package sync_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// TestMain lets the test binary serve as the child of cross-process tests.
func TestMain(m *testing.M) {
	if os.Getenv(envPipeEcho) != "" {
		pipeEcho() // the child of the os.Pipe baseline; never returns
	}
	spawn.Main()
	os.Exit(m.Run())
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func region(t testing.TB) *shm.Region {
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// waitAll waits for children and fails the test on any error.
func waitAll[R any](t testing.TB, ps []*spawn.Process[R]) []R {
	t.Helper()
	out := make([]R, len(ps))
	for i, p := range ps {
		r, err := p.Wait(ctxT(t))
		if err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		out[i] = r
	}
	return out
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		v := recover()
		if v == nil {
			t.Fatalf("%s did not panic", what)
		}
		if s, ok := v.(string); !ok || len(s) < 14 || s[:14] != "forkless/sync:" {
			t.Fatalf("%s panicked with %v, want a forkless/sync: message", what, v)
		}
	}()
	f()
}
