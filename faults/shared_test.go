//go:build linux

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Kill scenarios over shared containers: writers set pairs (x, -x) into a
// Dict or a List and are SIGKILLed at random moments; the test process
// reads every entry and checks its pair.

type pairVal struct{ X, Y int64 }

func (p pairVal) ok() bool { return p.Y == -p.X }

type writerArg struct {
	Kind string // "dict" or "list"
	H    shared.Handle
	Ctr  shm.Handle // [2]uint64: writes, errors
	Seed int64
}

const entries = 16

var writerFn = spawn.Register("faults.writer", func(ctx context.Context, a writerArg) (int, error) {
	ctrA, err := shm.OpenArray[uint64](a.Ctr)
	if err != nil {
		return 0, err
	}
	ctr := ctrA.Slice()
	set, err := openSetter(a)
	if err != nil {
		return 0, err
	}
	for x := a.Seed; ctx.Err() == nil; x++ {
		if err := set(ctx, int(x%entries), pairVal{x, -x}); err != nil && ctx.Err() == nil {
			atomic.AddUint64(&ctr[1], 1)
			return 0, err
		}
		atomic.AddUint64(&ctr[0], 1)
	}
	return 0, nil
})

func openSetter(a writerArg) (func(context.Context, int, pairVal) error, error) {
	if a.Kind == "dict" {
		d, err := shared.OpenDict[string, pairVal](a.H)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, i int, v pairVal) error { return d.SetContext(ctx, strconv.Itoa(i), v) }, nil
	}
	l, err := shared.OpenList[pairVal](a.H)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, i int, v pairVal) error { return l.SetContext(ctx, i, v) }, nil
}

func TestKillContainerWriters(t *testing.T) {
	for _, kind := range []string{"dict", "list"} {
		t.Run(kind, func(t *testing.T) { killWriters(t, kind) })
	}
}

func killWriters(t *testing.T, kind string) {
	rnd := rng(t)
	snap := takeSnapshot()
	m, err := shared.NewManager(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	get, h, err := makeContainer(m.Heap(), kind)
	ctr, err2 := shm.NewArray[uint64](m.Heap().Region(), 2)
	if err := errors.Join(err, err2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 2
	procs := make([]*spawn.Process[int], n)
	start := func(i int) {
		a := writerArg{kind, h, ctr.Handle(), rnd.Int64N(1 << 40)}
		if procs[i], err = writerFn.Start(ctx, a, spawn.Share(m.Heap().Region())); err != nil {
			t.Fatal(err)
		}
	}
	for i := range procs {
		start(i)
	}
	row := faults.Row{Scenario: kind + "/kill-writer"}
	writes := &ctr.Slice()[0]
	deadline := time.Now().Add(budget())
	var reads, readErrs int64
	for time.Now().Before(deadline) {
		for range 1 + rnd.IntN(50) { // the bystander reads meanwhile
			v, ok, err := get(ctx, rnd.IntN(entries))
			reads++
			switch {
			case err != nil:
				readErrs++
			case ok && !v.ok():
				row.Torn++
			}
		}
		i := rnd.IntN(n)
		checkAlive(t, procs[i])
		before := atomic.LoadUint64(writes)
		procs[i].Kill()
		killed := time.Now()
		procs[i].Wait(ctx)
		row.Kills++
		start(i)
		row.Recovery = append(row.Recovery, waitProgress(writes, before+n, killed, &row))
	}
	stopAll(t, procs)
	for i := range entries { // after the last kill, every entry reads whole
		if v, ok, err := get(ctx, i); err != nil || (ok && !v.ok()) {
			row.Torn++
			t.Errorf("entry %d after the kills: %v %v %v", i, v, ok, err)
		}
	}
	row.Items = int64(atomic.LoadUint64(writes)) + reads
	row.Note = fmt.Sprintf("%d reads (%d errors), %d writer errors", reads, readErrs, ctr.Slice()[1])
	if readErrs > 0 || ctr.Slice()[1] > 0 {
		t.Errorf("errors: %s", row.Note)
	}
	m.Close()
	snap.leaks(&row)
	record(t, row)
}

// makeContainer makes a Dict or List of entries pairs and returns a
// reader of entry i.
func makeContainer(h *shm.Heap, kind string) (func(context.Context, int) (pairVal, bool, error), shared.Handle, error) {
	if kind == "dict" {
		d, err := shared.NewDict[string, pairVal](h)
		if err != nil {
			return nil, shared.Handle{}, err
		}
		get := func(ctx context.Context, i int) (pairVal, bool, error) { return d.GetContext(ctx, strconv.Itoa(i)) }
		return get, d.Handle(), nil
	}
	l, err := shared.NewList[pairVal](h)
	if err != nil {
		return nil, shared.Handle{}, err
	}
	if err := l.Append(make([]pairVal, entries)...); err != nil {
		return nil, shared.Handle{}, err
	}
	get := func(ctx context.Context, i int) (pairVal, bool, error) {
		v, err := l.GetContext(ctx, i)
		return v, true, err
	}
	return get, l.Handle(), nil
}
