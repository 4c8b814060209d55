//go:build linux

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// Kill scenarios over Cond waiters and Barrier parties: the killed process
// must not hold the others (a Cond's live waiters keep being woken, a
// Barrier's other parties get ErrBroken at their timeout, as in Python).

type waitArg struct {
	Kind string // "cond" or "barrier"
	H    shm.Handle
	Ctr  shm.Handle // [2]uint64: wakes (or barrier passes), late returns
}

var waiterFn = spawn.Register("faults.waiter", func(ctx context.Context, a waitArg) (int, error) {
	ctrA, err := shm.OpenArray[uint64](a.Ctr)
	if err != nil {
		return 0, err
	}
	ctr := ctrA.Slice()
	round, err := waitRound(a)
	if err != nil {
		return 0, err
	}
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		start := time.Now()
		ok, err := round(wctx)
		cancel()
		if time.Since(start) > 1200*time.Millisecond {
			atomic.AddUint64(&ctr[1], 1)
		}
		if ok {
			atomic.AddUint64(&ctr[0], 1)
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, fsync.ErrBroken) && !errors.Is(err, fsync.ErrOwnerDead) {
			return 0, err
		}
	}
	return 0, nil
})

// waitRound is one wait: on the Cond under its lock, or at the Barrier.
func waitRound(a waitArg) (func(context.Context) (bool, error), error) {
	if a.Kind == "barrier" {
		b, err := fsync.OpenBarrier(a.H)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (bool, error) {
			_, err := b.WaitContext(ctx)
			return err == nil, err
		}, nil
	}
	c, err := fsync.OpenCond(a.H)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (bool, error) {
		if err := c.L.LockContext(ctx); errors.Is(err, fsync.ErrOwnerDead) {
			c.L.MarkConsistent()
		} else if err != nil {
			return false, err
		}
		defer c.L.Unlock()
		err := c.WaitContext(ctx)
		return err == nil, err
	}, nil
}

func TestKillWaiters(t *testing.T) {
	for _, kind := range []string{"cond", "barrier"} {
		t.Run(kind, func(t *testing.T) { killWaiters(t, kind) })
	}
}

func killWaiters(t *testing.T, kind string) {
	rnd := rng(t)
	snap := takeSnapshot()
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	var h shm.Handle
	var wake func()
	if kind == "cond" {
		c, err := fsync.NewCond(r)
		if err != nil {
			t.Fatal(err)
		}
		h = c.Handle()
		wake = func() {
			if c.L.Lock() == nil {
				c.Notify(1)
				c.L.Unlock()
			}
		}
	} else {
		b, err := fsync.NewBarrier(r, n)
		if err != nil {
			t.Fatal(err)
		}
		h = b.Handle()
		wake = func() {
			if b.Broken() {
				b.Reset()
			}
		}
	}
	ctr, err := shm.NewArray[uint64](r, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := waitArg{kind, h, ctr.Handle()}
	procs := make([]*spawn.Process[int], n)
	for i := range procs {
		if procs[i], err = waiterFn.Start(ctx, a, spawn.Share(r)); err != nil {
			t.Fatal(err)
		}
	}
	row := faults.Row{Scenario: kind + "/kill-waiter"}
	wakes := &ctr.Slice()[0]
	stop := make(chan struct{})
	go func() { // the bystander's side: notify, or mend the barrier
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				wake()
			}
		}
	}()
	deadline := time.Now().Add(budget())
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(5+rnd.IntN(30)) * time.Millisecond) // a random moment
		i := rnd.IntN(n)
		checkAlive(t, procs[i])
		before := atomic.LoadUint64(wakes)
		procs[i].Kill()
		killed := time.Now()
		procs[i].Wait(ctx)
		row.Kills++
		if procs[i], err = waiterFn.Start(ctx, a, spawn.Share(r)); err != nil {
			t.Fatal(err)
		}
		row.Recovery = append(row.Recovery, waitProgress(wakes, before+1, killed, &row))
	}
	close(stop)
	stopAll(t, procs)
	c := ctr.Slice()
	row.Items, row.Hangs = int64(c[0]), row.Hangs+int(c[1])
	row.Note = fmt.Sprintf("%d wakes", c[0])
	r.Close()
	snap.leaks(&row)
	record(t, row)
}
