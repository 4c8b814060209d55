// Package conformance_test mirrors CPython's multiprocessing tests
// (Lib/test/_test_multiprocessing.py) and concurrent.futures'
// process-pool tests (Lib/test/test_concurrent_futures) against forkless's
// public API, across real processes. Each test is named after the one it
// mirrors: TestCondition_notify_n is _TestCondition.test_notify_n. Python's
// timeouts are shortened; nothing sleeps to synchronise where an event can
// be waited on. README.md lists every CPython test and where it went.
package conformance_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// TestMain lets the test binary serve as every child: spawn.Main runs the
// registered function a child was started for, and returns at once in the
// parent.
func TestMain(m *testing.M) {
	spawn.Main()
	os.Exit(m.Run())
}

// tctx is a test's context: long enough for a loaded machine, short enough
// that a hang fails the test instead of the whole run.
func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// region makes an anonymous region closed at the test's end (after the
// test's own defers, which close the objects in it).
func region(t testing.TB, size int64) *shm.Region {
	r, err := shm.New(size)
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
