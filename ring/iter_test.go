package ring_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

type ringIterArg struct {
	S, M shm.Handle
	N    int
}

var ringIterProducer = spawn.Register("ring.iterProducer", func(ctx context.Context, a ringIterArg) (struct{}, error) {
	s, err1 := ring.OpenSPSC[int64](a.S)
	m, err2 := ring.OpenMPMC[int64](a.M)
	if err := errors.Join(err1, err2); err != nil {
		return struct{}{}, err
	}
	for _, q := range []interface {
		Push(context.Context, int64) error
		Close() error
	}{s, m} { // one ring after the other: the parent drains them in turn
		for i := range a.N {
			if err := q.Push(ctx, int64(i)); err != nil {
				return struct{}{}, err
			}
		}
		if err := q.Close(); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

// TestAllAcrossProcesses: a child pushes and closes; the parent's range
// over SPSC.All and MPMC.All sees every item in order and ends quietly.
func TestAllAcrossProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err1 := ring.NewSPSC[int64](r, 64)
	m, err2 := ring.NewMPMC[int64](r, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	p, err := ringIterProducer.Start(ctx, ringIterArg{s.Handle(), m.Handle(), n}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for v, err := range s.All(ctx) {
		if err != nil || v != int64(got) {
			t.Fatalf("spsc item %d: %d, %v", got, v, err)
		}
		got++
	}
	for v, err := range m.All(ctx) {
		if err != nil || v != int64(got-n) {
			t.Fatalf("mpmc item %d: %d, %v", got-n, v, err)
		}
		got++
	}
	if got != 2*n {
		t.Fatalf("got %d items, want %d", got, 2*n)
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAllYieldsTheContextError: an open, empty ring's loop ends with the
// context's error as its last pair.
func TestAllYieldsTheContextError(t *testing.T) {
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q, err := ring.NewMPMC[int64](r, 8)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var last error
	for _, err := range q.All(ctx) {
		last = err
	}
	if !errors.Is(last, context.DeadlineExceeded) {
		t.Fatalf("last error %v, want the deadline", last)
	}
}
