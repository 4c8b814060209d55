package ring_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// TestMain lets the test binary serve as the child of cross-process tests:
// spawn.Main runs the requested function and exits in a child, and returns
// at once in the parent.
func TestMain(m *testing.M) {
	spawn.Main()
	os.Exit(m.Run())
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
