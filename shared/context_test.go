package shared_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
)

// TestContextCancelsLockWaits: while another goroutine holds a container's
// lock (inside Update), every XContext method waiting for it returns
// promptly with its context's error once the context is cancelled, and
// changes nothing; SetTimeout's ErrTimeout stays for the timeout itself.
func TestContextCancelsLockWaits(t *testing.T) {
	m := newManager(t, 4<<20)
	h := m.Heap()
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](h))
	l := must[*shared.List[int64]](t)(shared.NewList[int64](h))
	sl := must[*shared.ShareableList[int64]](t)(shared.NewShareableList(h, []int64{1}))
	rec := must[*shared.Record[int64]](t)(shared.NewRecord(h, int64(1)))
	d.Set("k", 1)
	l.Append(1)

	// hold runs an Update that keeps the lock until the returned func is called.
	type holder func(ready chan<- struct{}, release <-chan struct{})
	holdWith := func(update func(block func())) holder {
		return func(ready chan<- struct{}, release <-chan struct{}) {
			update(func() { close(ready); <-release })
		}
	}
	dictHold := holdWith(func(b func()) { d.Update("k", func(v int64, ok bool) (int64, bool) { b(); return v, ok }) })
	listHold := holdWith(func(b func()) { l.Update(0, func(v int64) int64 { b(); return v }) })
	slHold := holdWith(func(b func()) { sl.Update(0, func(v int64) int64 { b(); return v }) })
	recHold := holdWith(func(b func()) { rec.Update(func(v int64) int64 { b(); return v }) })

	cases := []struct {
		name string
		hold holder
		call func(ctx context.Context) error
	}{
		{"Dict.SetContext", dictHold, func(ctx context.Context) error { return d.SetContext(ctx, "x", 1) }},
		{"Dict.GetContext", dictHold, func(ctx context.Context) error { _, _, err := d.GetContext(ctx, "k"); return err }},
		{"Dict.DeleteContext", dictHold, func(ctx context.Context) error { _, err := d.DeleteContext(ctx, "k"); return err }},
		{"Dict.PopContext", dictHold, func(ctx context.Context) error { _, _, err := d.PopContext(ctx, "k"); return err }},
		{"Dict.SetDefaultContext", dictHold, func(ctx context.Context) error { _, _, err := d.SetDefaultContext(ctx, "y", 1); return err }},
		{"Dict.CompareAndSwapContext", dictHold, func(ctx context.Context) error { _, err := d.CompareAndSwapContext(ctx, "k", 1, 2); return err }},
		{"Dict.UpdateContext", dictHold, func(ctx context.Context) error {
			_, _, err := d.UpdateContext(ctx, "k", func(v int64, ok bool) (int64, bool) { return v + 1, true })
			return err
		}},
		{"Dict.RangeContext", dictHold, func(ctx context.Context) error {
			return d.RangeContext(ctx, func(string, int64) bool { return true })
		}},
		{"Dict.ClearContext", dictHold, func(ctx context.Context) error { return d.ClearContext(ctx) }},
		{"Dict.PopItemContext", dictHold, func(ctx context.Context) error { _, _, err := d.PopItemContext(ctx); return err }},
		{"Dict.SetAllContext", dictHold, func(ctx context.Context) error {
			return d.SetAllContext(ctx, maps.All(map[string]int64{"z": 1}))
		}},
		{"Dict.All", dictHold, func(ctx context.Context) error { _, err := d.All(ctx); return err }},
		{"Dict.Keys", dictHold, func(ctx context.Context) error { _, err := d.Keys(ctx); return err }},
		{"Dict.Values", dictHold, func(ctx context.Context) error { _, err := d.Values(ctx); return err }},
		{"List.AppendContext", listHold, func(ctx context.Context) error { return l.AppendContext(ctx, 2) }},
		{"List.GetContext", listHold, func(ctx context.Context) error { _, err := l.GetContext(ctx, 0); return err }},
		{"List.SetContext", listHold, func(ctx context.Context) error { return l.SetContext(ctx, 0, 2) }},
		{"List.UpdateContext", listHold, func(ctx context.Context) error {
			_, err := l.UpdateContext(ctx, 0, func(v int64) int64 { return v + 1 })
			return err
		}},
		{"List.PopContext", listHold, func(ctx context.Context) error { _, err := l.PopContext(ctx); return err }},
		{"List.ClearContext", listHold, func(ctx context.Context) error { return l.ClearContext(ctx) }},
		{"List.RangeContext", listHold, func(ctx context.Context) error {
			return l.RangeContext(ctx, func(int, int64) bool { return true })
		}},
		{"List.SliceContext", listHold, func(ctx context.Context) error { _, err := l.SliceContext(ctx); return err }},
		{"List.InsertContext", listHold, func(ctx context.Context) error { return l.InsertContext(ctx, 0, 5) }},
		{"List.PopAtContext", listHold, func(ctx context.Context) error { _, err := l.PopAtContext(ctx, 0); return err }},
		{"List.RemoveContext", listHold, func(ctx context.Context) error { return l.RemoveContext(ctx, 1) }},
		{"List.IndexContext", listHold, func(ctx context.Context) error { _, err := l.IndexContext(ctx, 1); return err }},
		{"List.CountContext", listHold, func(ctx context.Context) error { _, err := l.CountContext(ctx, 1); return err }},
		{"List.ExtendContext", listHold, func(ctx context.Context) error { return l.ExtendContext(ctx, slices.Values([]int64{3})) }},
		{"List.All", listHold, func(ctx context.Context) error { _, err := l.All(ctx); return err }},
		{"List.Values", listHold, func(ctx context.Context) error { _, err := l.Values(ctx); return err }},
		{"ShareableList.GetContext", slHold, func(ctx context.Context) error { _, err := sl.GetContext(ctx, 0); return err }},
		{"ShareableList.SetContext", slHold, func(ctx context.Context) error { return sl.SetContext(ctx, 0, 2) }},
		{"ShareableList.UpdateContext", slHold, func(ctx context.Context) error {
			_, err := sl.UpdateContext(ctx, 0, func(v int64) int64 { return v + 1 })
			return err
		}},
		{"ShareableList.SliceContext", slHold, func(ctx context.Context) error { _, err := sl.SliceContext(ctx); return err }},
		{"ShareableList.IndexContext", slHold, func(ctx context.Context) error { _, err := sl.IndexContext(ctx, 1); return err }},
		{"ShareableList.CountContext", slHold, func(ctx context.Context) error { _, err := sl.CountContext(ctx, 1); return err }},
		{"ShareableList.All", slHold, func(ctx context.Context) error { _, err := sl.All(ctx); return err }},
		{"Record.LoadContext", recHold, func(ctx context.Context) error { _, err := rec.LoadContext(ctx); return err }},
		{"Record.StoreContext", recHold, func(ctx context.Context) error { return rec.StoreContext(ctx, 2) }},
		{"Record.UpdateContext", recHold, func(ctx context.Context) error {
			_, err := rec.UpdateContext(ctx, func(v int64) int64 { return v + 1 })
			return err
		}},
	}
	for _, c := range cases {
		ready, release, held := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() { c.hold(ready, release); close(held) }()
		<-ready
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.call(ctx) }()
		time.Sleep(20 * time.Millisecond) // let it wait for the lock
		cancel()
		start := time.Now()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v, want context.Canceled", c.name, err)
			}
			if time.Since(start) > time.Second {
				t.Errorf("%s: returned %v after the cancel", c.name, time.Since(start))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still waiting 5s after the cancel", c.name)
		}
		close(release)
		<-held
	}
	if v, _, _ := d.Get("k"); v != 1 || d.Len() != 1 || l.Len() != 1 {
		t.Fatalf("cancelled calls changed something: k=%d, dict %d, list %d", v, d.Len(), l.Len())
	}

	// SetTimeout still answers ErrTimeout, and a context ending first wins.
	ready, release, held := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() { dictHold(ready, release); close(held) }()
	<-ready
	d.SetTimeout(30 * time.Millisecond)
	if err := d.Set("x", 1); !errors.Is(err, shared.ErrTimeout) {
		t.Errorf("Set with SetTimeout: %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	d.SetTimeout(time.Minute)
	if err := d.SetContext(ctx, "x", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SetContext whose context ends before the timeout: %v, want DeadlineExceeded", err)
	}
	close(release)
	<-held
}
