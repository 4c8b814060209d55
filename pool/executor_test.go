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
