package sync

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/spin"
)

// TestWakeSkipsNextWaitSpin: a wake (Event.Set's, Semaphore.Release's)
// that finds a sleeper makes this process's next conversation wait
// (newWaitBackoff) skip its spin, except internal/spin's one probe in 8;
// a lock's wait (newBackoff) spins all the same.
func TestWakeSkipsNextWaitSpin(t *testing.T) {
	var budget spin.Budget
	budget.StartWait() // consume a Woke left by an earlier test
	skipped := 0
	for i := range 8 {
		var word atomic.Uint32
		done := make(chan error, 1)
		go func() { done <- futex.Wait(&word, 0, 10*time.Second) }()
		for wake(&word, -1) == 0 {
			time.Sleep(100 * time.Microsecond) // not asleep yet
		}
		if err := <-done; err != nil {
			t.Fatalf("round %d: the sleeper returned %v, want a wake", i, err)
		}
		if i == 0 {
			if bo := newBackoff(context.Background(), &budget); !bo.spin() {
				t.Fatal("a lock's wait skipped its spin after a wake")
			}
			continue // newBackoff left Woke set: the next wake sets it again
		}
		if bo := newWaitBackoff(context.Background(), &budget); !bo.spin() {
			skipped++
		}
		if bo := newWaitBackoff(context.Background(), &budget); !bo.spin() {
			t.Fatalf("round %d: the second wait after a wake skipped its spin too", i)
		}
	}
	if skipped < 6 {
		t.Fatalf("%d of 7 waits after a wake skipped their spin, want 6 or 7 (one in 8 probes)", skipped)
	}
}
