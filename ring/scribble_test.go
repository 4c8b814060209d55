package ring

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// Another process can write any bytes into a ring. These tests write a few
// impossible values into the sequence word of a live MPMC slot, and into
// the cursors of both kinds of ring, and require every blocking call to
// return within a bound: with ErrCorrupt where the value is impossible, or
// with its context's error. Before the bounds (issue 13) an 8-byte store
// into a slot's sequence word made Push and Pop loop forever at full CPU,
// never looking at their context.

// scribbleBound is how long a call may take: the context's deadline plus
// a margin.
const (
	scribbleDeadline = 300 * time.Millisecond
	scribbleBound    = 5 * time.Second
)

// within runs op with a context of scribbleDeadline and fails the test if
// it has not returned within scribbleBound. It reports whether op returned
// (a hung op keeps its region mapped: the caller must not close it).
func within(t *testing.T, name string, op func(ctx context.Context) error) (error, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scribbleDeadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	select {
	case err := <-done:
		return err, true
	case <-time.After(scribbleBound):
		t.Errorf("%s: still running %v after its context's deadline (spinning on a scribbled word)", name, scribbleBound)
		return nil, false
	}
}

// scribbleRegion is a region that is closed only if every call returned.
func scribbleRegion(t *testing.T) (*shm.Region, *bool) {
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	ok := true
	t.Cleanup(func() {
		if ok {
			r.Close()
		}
	})
	return r, &ok
}

func TestMPMCScribbledWordsNeverHang(t *testing.T) {
	type scribble struct {
		name  string
		write func(q *MPMC[uint64])
	}
	// The ring holds items at positions 0..2 (deq 0, enq 3) of 8 slots.
	cases := []scribble{
		{"seq(enq) ahead", func(q *MPMC[uint64]) { q.seq(3).Store(3 + 5) }},
		{"seq(enq) far ahead", func(q *MPMC[uint64]) { q.seq(3).Store(1 << 40) }},
		{"seq(enq) behind", func(q *MPMC[uint64]) { q.seq(3).Store(1) }},
		{"seq(enq) hole", func(q *MPMC[uint64]) { q.seq(3).Store(4 | seqHole) }},
		{"seq(deq) ahead", func(q *MPMC[uint64]) { q.seq(0).Store(7) }},
		{"seq(deq) far ahead", func(q *MPMC[uint64]) { q.seq(0).Store(1 << 62) }},
		{"seq(deq) all ones", func(q *MPMC[uint64]) { q.seq(0).Store(^uint64(0)) }},
		{"enq far ahead", func(q *MPMC[uint64]) { q.enq.Store(1 << 40) }},
		{"enq behind", func(q *MPMC[uint64]) { q.enq.Store(1) }},
		{"deq far ahead", func(q *MPMC[uint64]) { q.deq.Store(1 << 40) }},
		{"deq ahead of enq", func(q *MPMC[uint64]) { q.deq.Store(5) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, closeOK := scribbleRegion(t)
			q, err := NewMPMC[uint64](r, 8)
			if err != nil {
				t.Fatal(err)
			}
			q.SetStallTimeout(20 * time.Millisecond)
			for i := range uint64(3) {
				if err := q.TryPush(i); err != nil {
					t.Fatal(err)
				}
			}
			c.write(q)
			var errs []error
			for i := range 12 { // enough puts to fill the ring, enough gets to drain it
				err, ok := within(t, fmt.Sprintf("Push %d", i), func(ctx context.Context) error { return q.Push(ctx, 9) })
				*closeOK = *closeOK && ok
				errs = append(errs, err)
				err, ok = within(t, fmt.Sprintf("Pop %d", i), func(ctx context.Context) error { _, err := q.Pop(ctx); return err })
				*closeOK = *closeOK && ok
				errs = append(errs, err)
				if !*closeOK {
					return
				}
			}
			corrupt := false
			for _, err := range errs {
				if err == nil || errors.Is(err, context.DeadlineExceeded) {
					continue
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("error %v, want ErrCorrupt or the context's", err)
				}
				corrupt = true
			}
			t.Logf("corrupt seen: %v; errors %v", corrupt, errs)
		})
	}
}

func TestSPSCScribbledIndexesAreCorrupt(t *testing.T) {
	cases := []struct {
		name  string
		write func(q *SPSC[uint64])
	}{
		{"head ahead of tail", func(q *SPSC[uint64]) { q.head.Store(q.tail.Load() + 100) }},
		{"tail far ahead", func(q *SPSC[uint64]) { q.tail.Store(1 << 40) }},
		{"head far behind", func(q *SPSC[uint64]) { q.head.Store(0); q.tail.Store(1 << 20) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, closeOK := scribbleRegion(t)
			q, err := NewSPSC[uint64](r, 8)
			if err != nil {
				t.Fatal(err)
			}
			for i := range uint64(3) {
				if err := q.TryPush(i); err != nil {
					t.Fatal(err)
				}
			}
			c.write(q)
			var pushErr, popErr error
			for i := 0; i < 20 && pushErr == nil; i++ {
				var ok bool
				pushErr, ok = within(t, "Push", func(ctx context.Context) error { return q.Push(ctx, 9) })
				*closeOK = *closeOK && ok
			}
			for i := 0; i < 20 && popErr == nil; i++ {
				var ok bool
				popErr, ok = within(t, "Pop", func(ctx context.Context) error { _, err := q.Pop(ctx); return err })
				*closeOK = *closeOK && ok
			}
			if !errors.Is(pushErr, ErrCorrupt) && !errors.Is(popErr, ErrCorrupt) {
				t.Errorf("Push: %v, Pop: %v; want ErrCorrupt from at least one", pushErr, popErr)
			}
			for _, err := range []error{pushErr, popErr} {
				if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v, want ErrCorrupt or the context's", err)
				}
			}
			if q.Reserve(1) != nil && q.Peek(1) != nil {
				t.Error("Reserve and Peek both hand out slots of a corrupt ring")
			}
		})
	}
}
