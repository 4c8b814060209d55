//go:build unix

package pool_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// farExecutor is an Executor that is not a Pool and uses only the public
// API, as one in another module would: it runs each item in this process
// through pool.RunEncoded, and sends every error through JSON, as if it
// came from another machine.
type farExecutor struct {
	mu        sync.Mutex
	cancelled map[*pool.Job]bool
	wg        sync.WaitGroup
}

func newFarExecutor(t *testing.T) *farExecutor {
	e := &farExecutor{cancelled: map[*pool.Job]bool{}}
	t.Cleanup(e.wg.Wait)
	return e
}

func (e *farExecutor) Workers() int { return 3 }

func (e *farExecutor) RunJob(j *pool.Job, lo, hi, chunk int) error {
	for i := lo; i < hi; i++ {
		arg, err := j.AppendArg(nil, i)
		if err != nil {
			return err
		}
		e.wg.Go(func() {
			e.mu.Lock()
			skip := e.cancelled[j]
			e.mu.Unlock()
			if skip {
				return
			}
			out, err := pool.RunEncoded(context.Background(), j.Func(), arg)
			j.Deliver(i, out, travel(err))
		})
	}
	return nil
}

func (e *farExecutor) CancelJob(j *pool.Job) {
	e.mu.Lock()
	e.cancelled[j] = true
	e.mu.Unlock()
}

// travel marshals a *spawn.ChildError to JSON and back.
func travel(err error) error {
	if err == nil {
		return nil
	}
	b, merr := json.Marshal(err)
	if merr != nil {
		return merr
	}
	var ce spawn.ChildError
	if uerr := json.Unmarshal(b, &ce); uerr != nil {
		return uerr
	}
	return &ce
}

func TestExecutorNotAPool(t *testing.T) {
	ctx := poolCtx(t, 30*time.Second)
	ex := newFarExecutor(t)
	in := make([]int, 100)
	for i := range in {
		in[i] = i
	}
	out, err := pool.Map(ctx, ex, poolSquare, in)
	if err != nil || len(out) != 100 || out[9] != 81 {
		t.Fatalf("Map: %v, %v", err, out[:10])
	}
	if s, err := pool.Map(ctx, ex, poolUpper, []string{"a", "bc"}); err != nil || !slices.Equal(s, []string{"A", "BC"}) {
		t.Fatalf("Map of strings (the codec path): %v, %v", err, s)
	}
	if v, err := pool.Apply(ctx, ex, poolSquare, 12); err != nil || v != 144 {
		t.Fatalf("Apply: %v, %v", err, v)
	}
	if v, err := pool.Submit(ex, poolMul, pool.Args2[int, int]{A: 6, B: 7}).Wait(ctx); err != nil || v != 42 {
		t.Fatalf("Submit: %v, %v", err, v)
	}
	var got []int
	for v, err := range pool.Imap(ctx, ex, poolSquare, slices.Values(in[:50]), pool.Window(8)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 50 || got[49] != 49*49 {
		t.Fatalf("Imap: %v", got)
	}
	n := 0
	for _, err := range pool.ImapUnordered(ctx, ex, poolSquare, slices.Values(in[:20]), pool.Chunk(3)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 20 {
		t.Fatalf("ImapUnordered yielded %d of 20", n)
	}
}

func TestExecutorErrorsKeepTheirSentinels(t *testing.T) {
	ctx := poolCtx(t, 30*time.Second)
	ex := newFarExecutor(t)
	_, err := pool.Map(ctx, ex, poolFlaky, []int{0, 1, 2, 7})
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 2 {
		t.Fatalf("Map = %v, want items 1 and 7 failed", err)
	}
	var ce *spawn.ChildError
	if odd := me.Failed[0]; odd.Index != 1 || !errors.Is(odd, os.ErrInvalid) || !errors.As(odd, &ce) || ce.Func != poolFlaky.Name() {
		t.Errorf("item 1: %v, want a ChildError of %s wrapping os.ErrInvalid", odd, poolFlaky.Name())
	}
	if seven := me.Failed[1]; seven.Index != 3 || !errors.As(seven, &ce) || !ce.Panicked || ce.Stack == "" {
		t.Errorf("item 7: %+v, want a panic with its stack", seven)
	}
	_, err = pool.RunEncoded(ctx, "pool.no-such-function", nil)
	if !errors.Is(travel(err), spawn.ErrNotRegistered) || !errors.As(err, &ce) {
		t.Errorf("RunEncoded of an unknown name: %v", err)
	}
}

// deadlineExecutor is a farExecutor that records each job's Deadline.
type deadlineExecutor struct {
	*farExecutor
	mu   sync.Mutex
	seen []time.Time // zero: the job had none
}

func (e *deadlineExecutor) RunJob(j *pool.Job, lo, hi, chunk int) error {
	d, ok := j.Deadline()
	if ok == d.IsZero() {
		return errors.New("Deadline's ok disagrees with its time")
	}
	e.mu.Lock()
	e.seen = append(e.seen, d)
	e.mu.Unlock()
	return e.farExecutor.RunJob(j, lo, hi, chunk)
}

// An executor sees the deadline of the context Map, Imap and Apply were
// called with (so that one running items elsewhere can send it along);
// Submit, which takes no context, has none, nor has a context without one.
func TestJobCarriesTheCallersDeadline(t *testing.T) {
	ex := &deadlineExecutor{farExecutor: newFarExecutor(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	if _, err := pool.Map(ctx, ex, poolSquare, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	for _, err := range pool.Imap(ctx, ex, poolSquare, slices.Values([]int{3})) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Apply(ctx, ex, poolSquare, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Submit(ex, poolSquare, 5).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Apply(context.Background(), ex, poolSquare, 6); err != nil {
		t.Fatal(err)
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	wantSeen := []time.Time{want, want, want, {}, {}}
	if !slices.EqualFunc(ex.seen, wantSeen, time.Time.Equal) {
		t.Fatalf("deadlines seen by RunJob: %v, want %v", ex.seen, wantSeen)
	}
}
