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
		// The sleeper sleeps again until told to stop: futex.Wait also
		// returns on a signal (the Go runtime's preemption), and a
		// sleeper gone before any wake found it left this loop waking
		// nobody for ever.
		var word atomic.Uint32
		var stop atomic.Bool
		done := make(chan error, 1)
		go func() {
			for !stop.Load() {
				if err := futex.Wait(&word, 0, 10*time.Second); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		deadline := time.Now().Add(10 * time.Second)
		for wake(&word, -1) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no sleeper to wake within 10 s", i)
			}
			time.Sleep(100 * time.Microsecond) // not asleep yet
		}
		stop.Store(true)
		word.Store(1) // a sleeper between its look at stop and its Wait returns at once
		futex.Wake(&word, -1)
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
