//go:build unix

package spawn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// spawnSentinels are every sentinel the package declares.
var spawnSentinels = []error{
	spawn.ErrNotRegistered, spawn.ErrClosure, spawn.ErrNoMain, spawn.ErrDied, spawn.ErrEncode,
	spawn.ErrStarted, spawn.ErrNotStarted, spawn.ErrClosed, spawn.ErrSetup,
}

// returnSentinel returns spawnSentinels[i], wrapped twice.
var returnSentinel = spawn.Register("spawn.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	return struct{}{}, fmt.Errorf("outer: %w", fmt.Errorf("op: %w", spawnSentinels[i]))
})

func TestSentinelsCrossTheBoundary(t *testing.T) {
	for i, want := range spawnSentinels {
		_, err := returnSentinel.Run(context.Background(), i)
		var ce *spawn.ChildError
		if !errors.As(err, &ce) || !errors.Is(err, want) {
			t.Errorf("child returned %v: parent got %v, errors.Is false", want, err)
		}
	}
	if _, err := returnSentinel.Run(context.Background(), 7); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("spawn.ErrClosed from a child is not shm.ErrClosed: %v", err)
	}
}
