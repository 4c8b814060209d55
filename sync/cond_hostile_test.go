package sync

import (
	"context"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// TestCondNotifyScribbledTicketBounded: a ticket counter another process
// scribbled (next 2^31-1 ahead of released, as if that many waiters had
// queued) must not make Notify walk every ticket: it returns at once, and
// the Cond works afterwards. Before the fix Notify walked the whole gap,
// one CAS per ticket (minutes).
func TestCondNotifyScribbledTicketBounded(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := NewCond(r)
	if err != nil {
		t.Fatal(err)
	}
	w := wordsOf[condWords](t, c.Handle())
	w.next.Store(1<<31 - 1)
	done := make(chan struct{})
	go func() {
		c.Notify(1)
		c.Broadcast()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Notify still walking the scribbled ticket gap after 10 s (released %d)", w.released.Load())
	}
	// The Cond still works: a waiter is woken by a Signal.
	woke := make(chan error, 1)
	c.L.Lock()
	go func() {
		c.L.Lock()
		c.Signal()
		c.L.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	woke <- c.WaitContext(ctx)
	c.L.Unlock()
	if err := <-woke; err != nil {
		t.Fatalf("Wait after the scribble: %v", err)
	}
}
