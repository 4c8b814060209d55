package queue_test

import (
	"os"
	"testing"

	"github.com/forkless-go/forkless/spawn"
)

// TestMain lets the test binary serve as the child of cross-process tests:
// spawn.Main runs the requested function and exits in a child, and returns
// at once in the parent.
func TestMain(m *testing.M) {
	spawn.Main()
	os.Exit(m.Run())
}
