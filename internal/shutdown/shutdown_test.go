package shutdown

import (
	"context"
	"sync/atomic"
	"testing"
)

func TestRunCallsEachOnceAndRemoveWorks(t *testing.T) {
	var a, b atomic.Int32
	var removeA func()
	removeA = Add(func(context.Context) { a.Add(1); removeA() })
	removeB := Add(func(context.Context) { b.Add(1) })
	removeB()
	Run(context.Background())
	Run(context.Background())
	if a.Load() != 1 || b.Load() != 0 {
		t.Fatalf("a ran %d times, b %d; want 1 and 0", a.Load(), b.Load())
	}
}
