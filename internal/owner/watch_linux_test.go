package owner

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
)

// TestWatcherWakesOnExit: a sleeper on a futex word, watching a process,
// is woken when that process exits, long before its timeout, and Fired
// says why. Nobody, this process, and a dead process count as watched.
func TestWatcherWakesOnExit(t *testing.T) {
	cmd, w := startChild(t, "sleep", "30")
	defer cmd.Wait() //nolint:errcheck // killed below
	var word atomic.Uint32
	var x Watcher
	defer x.Stop()
	if !x.Watch(w, &word) || !x.Watch(w, &word) || len(x.watched) != 1 {
		t.Fatalf("Watch of a live child: watched %v", x.watched)
	}
	if !x.Watch(0, &word) || !x.Watch(selfWord(t), &word) || x.Fired() {
		t.Fatal("nobody and this process must count as watched, and nothing fired yet")
	}
	woke := make(chan error, 1)
	go func() { woke <- futex.Wait(&word, 0, 20*time.Second) }()
	time.Sleep(20 * time.Millisecond) // let the sleeper reach the kernel (a wake before it is only a spare loop)
	start := time.Now()
	cmd.Process.Kill()
	for {
		select {
		case err := <-woke:
			if err != nil {
				t.Fatalf("sleeper returned %v, want a wake", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the child's exit did not wake the sleeper")
		}
		if x.Fired() {
			break
		}
		go func() { woke <- futex.Wait(&word, 0, 20*time.Second) }() // woken early: sleep again
	}
	t.Logf("woken %v after the kill", time.Since(start))
	var y Watcher
	if !y.Watch(w, &word) || !y.Fired() {
		t.Fatal("a dead process must count as watched and fired at once")
	}
}
