//go:build linux

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// Kill scenarios over a pool: workers are SIGKILLed at random moments
// while a Map runs, with single-item tasks and with the defaults; with
// Retries, every item must come back, right, once.

var work = spawn.Register("faults.work", func(ctx context.Context, x int) (int, error) {
	end := time.Now().Add(20 * time.Microsecond)
	for time.Now().Before(end) {
	}
	return 3*x + 1, nil
})

func TestKillPoolWorkers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []pool.MapOption
	}{{"chunk=1", []pool.MapOption{pool.Chunk(1)}}, {"defaults", nil}} {
		t.Run(tc.name, func(t *testing.T) { killWorkers(t, tc.name, tc.opts) })
	}
}

func killWorkers(t *testing.T, name string, opts []pool.MapOption) {
	rnd := rng(t)
	snap := takeSnapshot()
	ctx, cancel := context.WithTimeout(context.Background(), budget()+30*time.Second)
	defer cancel()
	p, err := pool.New(ctx, pool.Workers(2), pool.Retries(3))
	if err != nil {
		t.Fatal(err)
	}
	row := faults.Row{Scenario: "pool/kill-worker/" + name}
	n := int(budget()/(10*time.Microsecond)) + 10000
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	type result struct {
		out []int
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		out, err := pool.Map(ctx, p, work, items, opts...)
		done <- result{out, err}
	}()
	var res result
	kills := time.NewTimer(time.Duration(5+rnd.IntN(20)) * time.Millisecond)
loop:
	for {
		select {
		case res = <-done:
			break loop
		case <-kills.C:
			if pids := p.Pids(); len(pids) > 0 && time.Since(start) < budget() {
				if err := killPid(pids[rnd.IntN(len(pids))]); err == nil {
					row.Kills++
				}
			}
			kills.Reset(time.Duration(5+rnd.IntN(40)) * time.Millisecond)
		}
	}
	kills.Stop()
	if ctx.Err() != nil {
		row.Hangs++
	}
	checkMap(&row, items, res.out, res.err)
	st := p.Stats()
	if err := p.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
	row.Items = int64(n)
	note := fmt.Sprintf("%d restarts, %d retried", st.Restarts, st.Retried)
	if res.err != nil {
		t.Errorf("map: %v", res.err)
		note += "; map: " + res.err.Error()
	}
	row.Note = note
	if st.Restarts > int64(row.Kills) {
		t.Errorf("%d kills, %d restarts: a kill restarts its worker at most once", row.Kills, st.Restarts)
	}
	snap.leaks(&row)
	record(t, row)
}

// checkMap counts wrong and failed items of a Map as lost, torn results
// as torn.
func checkMap(row *faults.Row, items, out []int, err error) {
	failed := map[int]bool{}
	var me *pool.MapError
	if errors.As(err, &me) {
		for _, f := range me.Failed {
			failed[f.Index] = true
		}
	} else if err != nil {
		row.Lost = int64(len(items))
		return
	}
	for i, x := range items {
		switch {
		case failed[i]:
			row.Lost++
		case i >= len(out):
			row.Lost++
		case out[i] != 3*x+1:
			row.Torn++
		}
	}
}

// crasher kills its own worker on the item given as Bad.
type crashArg struct{ X, Bad int }

var crasher = spawn.Register("faults.crasher", func(ctx context.Context, a crashArg) (int, error) {
	if a.X == a.Bad {
		killPid(os.Getpid())
		select {}
	}
	return 3*a.X + 1, nil
})

// TestCrashingItem: an item that kills its worker fails after 1+Retries
// attempts, each restarting the worker exactly once, and every other item
// comes back.
func TestCrashingItem(t *testing.T) {
	for _, chunk := range []int{1, 0} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) { crashingItem(t, chunk) })
	}
}

func crashingItem(t *testing.T, chunk int) {
	rnd := rng(t)
	snap := takeSnapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const retries = 2
	p, err := pool.New(ctx, pool.Workers(1), pool.Retries(retries))
	if err != nil {
		t.Fatal(err)
	}
	n := 300
	bad := rnd.IntN(n)
	items := make([]crashArg, n)
	for i := range items {
		items[i] = crashArg{i, bad}
	}
	var opts []pool.MapOption
	if chunk > 0 {
		opts = append(opts, pool.Chunk(chunk))
	}
	out, err := pool.Map(ctx, p, crasher, items, opts...)
	row := faults.Row{Scenario: fmt.Sprintf("pool/crashing-item/chunk=%d", chunk), Items: int64(n), Kills: retries + 1}
	if ctx.Err() != nil {
		row.Hangs++
	}
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 1 || me.Failed[0].Index != bad {
		t.Errorf("map: want item %d alone failed, got %v", bad, err)
		row.Lost++
	}
	for i, x := range out {
		if i != bad && x != 3*i+1 {
			row.Torn++
		}
	}
	st := settledStats(p, retries+1)
	row.Note = fmt.Sprintf("%d attempts, %d restarts", retries+1, st.Restarts)
	if st.Restarts != retries+1 {
		t.Errorf("%d restarts for %d attempts: each attempt restarts the worker exactly once", st.Restarts, retries+1)
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
	snap.leaks(&row)
	record(t, row)
}

// settledStats returns p's stats once Restarts reached want, or after two
// seconds (restarts are asynchronous: they follow the worker's exit).
func settledStats(p *pool.Pool, want int64) pool.Stats {
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := p.Stats()
		if st.Restarts >= want || time.Now().After(deadline) {
			time.Sleep(100 * time.Millisecond) // and no more follow
			return p.Stats()
		}
		time.Sleep(5 * time.Millisecond)
	}
}
