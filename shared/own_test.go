package shared_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/spawn"
)

type ownArg struct {
	D *shared.Dict[string, int]
	L *shared.List[string]
}

var ownFill = spawn.Register("shared.ownFill", func(ctx context.Context, a ownArg) (struct{}, error) {
	return struct{}{}, errors.Join(a.D.SetContext(ctx, "child", 1), a.L.AppendContext(ctx, "from the child"))
})

// TestNilHeapContainers: a Dict and a List made with a nil heap get one of
// their own (Python's Manager().dict() without the manager) and travel to
// a child as arguments.
func TestNilHeapContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err1 := shared.NewDict[string, int](nil)
	l, err2 := shared.NewList[string](nil)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if err := d.Set("parent", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ownFill.Run(ctx, ownArg{d, l}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := d.Get("child"); err != nil || !ok || v != 1 || d.Len() != 2 {
		t.Fatalf("dict: child = %d, %v, %v; len %d", v, ok, err, d.Len())
	}
	if s, err := l.Slice(); err != nil || len(s) != 1 || s[0] != "from the child" {
		t.Fatalf("list: %q, %v", s, err)
	}
}
