//go:build unix

package spawn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// OutOfStock is a child's own error type, with fields.
type OutOfStock struct {
	Item string
	Left int
}

func (e *OutOfStock) Error() string { return fmt.Sprintf("%s: only %d left", e.Item, e.Left) }

// Quota is one with a value receiver.
type Quota struct{ Limit int }

func (q Quota) Error() string { return fmt.Sprint("over quota ", q.Limit) }

func init() {
	spawn.RegisterErrorType[*OutOfStock]()
	spawn.RegisterErrorType[Quota]()
}

var placeOrder = spawn.Register("spawn.order", func(ctx context.Context, n int) (struct{}, error) {
	if n > 3 {
		return struct{}{}, fmt.Errorf("order %d: %w", n, errors.Join(&OutOfStock{Item: "apples", Left: 3}, Quota{Limit: 9}))
	}
	return struct{}{}, nil
})

// TestTypedErrorTravels: errors.As finds the child's own error values in
// the parent, with their fields.
func TestTypedErrorTravels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := placeOrder.Run(ctx, 5)
	var oos *OutOfStock
	if !errors.As(err, &oos) || oos.Item != "apples" || oos.Left != 3 {
		t.Fatalf("errors.As(*OutOfStock): %v, %+v", err, oos)
	}
	var q Quota
	if !errors.As(err, &q) || q.Limit != 9 {
		t.Fatalf("errors.As(Quota): %v, %+v", err, q)
	}
	var ce *spawn.ChildError
	if !errors.As(err, &ce) || ce.Message != "order 5: apples: only 3 left\nover quota 9" {
		t.Fatalf("child error: %v", err)
	}
}
