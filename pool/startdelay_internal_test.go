package pool

import (
	"testing"
	"time"
)

// TestStartDelay: the pause before a slot's nth start failure in a row is
// replaced is 5 ms, doubling, at most 1 s (as doc.go says).
func TestStartDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{
		0: 5 * time.Millisecond, 1: 5 * time.Millisecond, 2: 10 * time.Millisecond, 3: 20 * time.Millisecond,
		8: 640 * time.Millisecond, 9: time.Second, 1000: time.Second,
	} {
		if got := startDelay(n); got != want {
			t.Errorf("startDelay(%d) = %v, want %v", n, got, want)
		}
	}
}
