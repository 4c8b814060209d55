package futex

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestNapperDoublesToMaxNap(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps about 130 ms")
	}
	var w atomic.Uint32
	var n Napper
	before := Naps()
	want := []time.Duration{MinNap, 2 * MinNap}
	for _, d := range want {
		start := time.Now()
		if err := n.Sleep(context.Background(), &w, 0); err != ErrTimeout {
			t.Fatalf("Sleep = %v, want ErrTimeout", err)
		}
		if el := time.Since(start); el < d {
			t.Fatalf("nap of %v ended after %v", d, el)
		}
	}
	for range 10 {
		n.Sleep(context.Background(), &w, 1) // word differs: returns at once
	}
	if n.nap != 4*MinNap {
		t.Fatalf("nap %v after two timeouts, want %v", n.nap, 4*MinNap)
	}
	n.nap = MaxNap
	n.Sleep(context.Background(), &w, 0)
	if n.nap != MaxNap {
		t.Fatalf("nap grew past MaxNap: %v", n.nap)
	}
	if got := Naps() - before; got != 3 {
		t.Fatalf("Naps counted %d, want 3", got)
	}
}

func TestNapperContext(t *testing.T) {
	var w atomic.Uint32
	var n Napper
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Sleep(ctx, &w, 0); err != context.Canceled {
		t.Fatalf("Sleep(done ctx) = %v", err)
	}
}
