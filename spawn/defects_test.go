//go:build unix

package spawn_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// Tests for the defects of issues 12 and 13, each written to fail before
// its fix.

var defectExit = spawn.Register("spawn.defectExit", func(ctx context.Context, code int) (int, error) {
	os.Exit(code)
	return 0, nil
})

func defectCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Issue 12: a child that calls os.Exit, with status 0 as with 1, died
// without a result: an *ExitError wrapping ErrDied.
func TestOsExitIsExitError(t *testing.T) {
	for _, code := range []int{0, 1} {
		_, err := defectExit.Run(defectCtx(t, 20*time.Second), code)
		var ee *spawn.ExitError
		if !errors.As(err, &ee) || !errors.Is(err, spawn.ErrDied) || ee.ExitCode != code || !ee.Attached {
			t.Errorf("os.Exit(%d): err = %v (%T), want an attached *ExitError with code %d wrapping ErrDied", code, err, err, code)
		}
	}
}
