package ring_test

import (
	"context"
	"errors"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/ring"
)

// cpuTime is this process's user plus system time so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleShare runs block (which must wait until its context ends) for
// 300 ms, then 2 s more, and returns the share of a core this process used
// over those 2 s: the settle window lets the wait reach its steady state
// and the runtime's leftovers of earlier tests (a GC cycle, the scavenger)
// finish, so that the figure is the blocked call's own.
func idleShare(t *testing.T, name string, block func(context.Context) error) float64 {
	t.Helper()
	const settle, span = 300 * time.Millisecond, 2 * time.Second
	debug.FreeOSMemory()
	ctx, cancel := context.WithTimeout(context.Background(), settle+span)
	defer cancel()
	var before time.Duration
	var start time.Time
	settled := make(chan struct{})
	time.AfterFunc(settle, func() { before, start = cpuTime(t), time.Now(); close(settled) })
	err := block(ctx)
	<-settled
	used, el := cpuTime(t)-before, time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s = %v, want the deadline", name, err)
	}
	share := float64(used) / float64(el)
	t.Logf("%v of CPU in %v: %.3f%% of a core", used, el.Round(time.Millisecond), 100*share)
	return share
}

// TestMPMCPopIdleCost: a Pop blocked on an empty ring wakes about once a
// second (no stall pending), not four times per stall timeout: at most
// 0.5% of a core over 2 s (issue 13).
func TestMPMCPopIdleCost(t *testing.T) {
	q, err := ring.NewMPMC[uint64](newRegion(t, 1<<20), 8)
	if err != nil {
		t.Fatal(err)
	}
	share := idleShare(t, "Pop on an empty ring", func(ctx context.Context) error { _, err := q.Pop(ctx); return err })
	ceiling := 0.005
	if proc.Emulated() {
		ceiling = 0.05 // qemu-user translates the runtime's idle work at ~10x its cost (see queue's idle test)
	}
	if share > ceiling {
		t.Errorf("MPMC.Pop blocked on an empty ring used %.2f%% of a core, want at most %.1f%%", 100*share, 100*ceiling)
	}
}

// TestEveryBlockingCallIdleCost: the other blocking calls of the package
// (issue 13), each blocked 2 s on a silent counterpart: SPSC Pop and
// PopSome on an empty ring, SPSC Push and PushAll on a full one, MPMC Push
// and PushAll on a full one, MPMC PopSome on an empty one.
func TestEveryBlockingCallIdleCost(t *testing.T) {
	r := newRegion(t, 1<<20)
	empty, err := ring.NewSPSC[uint64](r, 8)
	if err != nil {
		t.Fatal(err)
	}
	full, err := ring.NewSPSC[uint64](r, 8)
	if err != nil {
		t.Fatal(err)
	}
	mfull, err := ring.NewMPMC[uint64](r, 8)
	if err != nil {
		t.Fatal(err)
	}
	mempty, err := ring.NewMPMC[uint64](r, 8)
	if err != nil {
		t.Fatal(err)
	}
	for full.TryPush(1) == nil {
	}
	for mfull.TryPush(1) == nil {
	}
	buf := make([]uint64, 4)
	for _, c := range []struct {
		name  string
		block func(ctx context.Context) error
	}{
		{"SPSC.Pop", func(ctx context.Context) error { _, err := empty.Pop(ctx); return err }},
		{"SPSC.PopSome", func(ctx context.Context) error { _, err := empty.PopSome(ctx, buf); return err }},
		{"SPSC.Push", func(ctx context.Context) error { return full.Push(ctx, 2) }},
		{"SPSC.PushAll", func(ctx context.Context) error { _, err := full.PushAll(ctx, buf); return err }},
		{"MPMC.Push", func(ctx context.Context) error { return mfull.Push(ctx, 2) }},
		{"MPMC.PushAll", func(ctx context.Context) error { _, err := mfull.PushAll(ctx, buf); return err }},
		{"MPMC.PopSome", func(ctx context.Context) error { _, err := mempty.PopSome(ctx, buf); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			share := idleShare(t, c.name, c.block)
			ceiling := 0.005
			if proc.Emulated() {
				ceiling = 0.05
			}
			if share > ceiling {
				t.Errorf("%s blocked used %.2f%% of a core, want at most %.1f%%", c.name, 100*share, 100*ceiling)
			}
		})
	}
}
