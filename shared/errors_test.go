package shared_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// sharedSentinels are every sentinel of package shared, in a fixed order
// that parent and child share.
var sharedSentinels = []error{
	shared.ErrNotFound, shared.ErrIndex, shared.ErrEmpty, shared.ErrFixed, shared.ErrTooLarge,
	shared.ErrCorrupt, shared.ErrHandle, shared.ErrTimeout, shared.ErrCodec, shared.ErrEncode,
}

// returnSentinel runs in a child and fails with sentinel i, wrapped.
var returnSentinel = spawn.Register("shared.returnSentinel", func(ctx context.Context, i int) (struct{}, error) {
	return struct{}{}, fmt.Errorf("child op: %w", sharedSentinels[i])
})

func TestSentinelsCrossTheProcessBoundary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, want := range sharedSentinels {
		_, err := returnSentinel.Run(ctx, i)
		if !errors.Is(err, want) {
			t.Errorf("child returned %q: errors.Is(err, %q) is false in the parent", err, want)
		}
	}
	// The package's corrupt and too-large errors are shm's shared meanings,
	// across the boundary too.
	if _, err := returnSentinel.Run(ctx, 5); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("%v: want shm.ErrCorrupt", err)
	}
	if _, err := returnSentinel.Run(ctx, 4); !errors.Is(err, shm.ErrTooLarge) {
		t.Errorf("%v: want shm.ErrTooLarge", err)
	}
	if _, err := returnSentinel.Run(ctx, 8); !errors.Is(err, spawn.ErrEncode) {
		t.Errorf("%v: a codec's failure is spawn.ErrEncode too", err)
	}
}

type withChan struct {
	Name string
	Jobs chan int
}

// encodeFailure runs in a child: a Set of a value with a channel in it.
var encodeFailure = spawn.Register("shared.encodeFailure", func(ctx context.Context, h shared.Handle) (struct{}, error) {
	d, err := shared.OpenDict[string, withChan](h)
	if err != nil {
		return struct{}{}, err
	}
	return struct{}{}, d.Set("k", withChan{Name: "x"})
})

// TestEncodeErrorsNameThePart: issue 16's one encoding-error style. A key
// or value that cannot be stored fails with ErrEncode (spawn.ErrEncode,
// across processes too) and the path of the part that cannot travel, as
// spawn says it ("value.Jobs (chan int)"), instead of the codec's raw text
// matching no sentinel of its own.
func TestEncodeErrorsNameThePart(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, withChan]](t)(shared.NewDict[string, withChan](m.Heap()))
	l := must[*shared.List[[]func()]](t)(shared.NewList[[]func()](m.Heap()))
	anyd := must[*shared.Dict[string, any]](t)(shared.NewDict[string, any](m.Heap()))
	_, keyErr := shared.NewDict[map[string]int, int](m.Heap())
	type unregistered struct{ A int }
	cases := []struct {
		err  error
		part string
	}{
		{d.Set("k", withChan{}), "value.Jobs (chan int)"},
		{l.Append([]func(){nil}), "value[] (func())"},
		{keyErr, "map[string]int"},
		{anyd.Set("k", unregistered{1}), "value (shared_test.unregistered)"},
	}
	for i, c := range cases {
		if !errors.Is(c.err, shared.ErrEncode) || !errors.Is(c.err, spawn.ErrEncode) || !strings.Contains(fmt.Sprint(c.err), c.part) {
			t.Errorf("case %d: %v: want ErrEncode naming %q", i, c.err, c.part)
		}
	}
	if d.Len() != 0 || l.Len() != 0 || anyd.Len() != 0 {
		t.Fatal("a failed encoding changed a container")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := encodeFailure.Run(ctx, d.Handle(), spawn.Share(m.Region()))
	if !errors.Is(err, shared.ErrEncode) || !strings.Contains(err.Error(), "value.Jobs (chan int)") {
		t.Fatalf("child's Set: %v, want ErrEncode naming value.Jobs (chan int)", err)
	}
}
