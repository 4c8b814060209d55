//go:build linux

package faults_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Whole trees: a child with two grandchildren, each holding a queue of
// unread spilled messages and a lock, is SIGKILLed. Its grandchildren must
// die with it, nothing may stay in /dev/shm, and no zombie may remain.

const grandchildren = 2

type treeArg struct {
	Pids shm.Handle // [grandchildren+1]int64: grandchild pids, then how many are ready
	Slot int
}

var holdFn = spawn.Register("faults.hold", func(ctx context.Context, a treeArg) (int, error) {
	pidsA, err := shm.OpenArray[int64](a.Pids)
	if err != nil {
		return 0, err
	}
	r, err := shm.New(4 << 20)
	if err != nil {
		return 0, err
	}
	q, err := queue.New(r, qcfg)
	if err != nil {
		return 0, err
	}
	for i := range 3 { // unread, larger than half the ring: the spill way
		if err := q.Put(ctx, makeItem(1, uint64(i), 40<<10)); err != nil {
			return 0, err
		}
	}
	pids := pidsA.Slice()
	atomic.StoreInt64(&pids[a.Slot], int64(os.Getpid()))
	atomic.AddInt64(&pids[grandchildren], 1)
	<-ctx.Done()
	return 0, nil
})

var treeFn = spawn.Register("faults.tree", func(ctx context.Context, a treeArg) (int, error) {
	pidsA, err := shm.OpenArray[int64](a.Pids)
	if err != nil {
		return 0, err
	}
	for i := range grandchildren {
		if _, err := holdFn.Start(ctx, treeArg{a.Pids, i}, spawn.Share(pidsA.Region())); err != nil {
			return 0, err
		}
	}
	<-ctx.Done()
	return 0, nil
})

func TestKillTrees(t *testing.T) {
	snap := takeSnapshot()
	row := faults.Row{Scenario: "tree/kill-parent"}
	deadline := time.Now().Add(budget())
	for row.Kills == 0 || time.Now().Before(deadline) {
		killTree(t, &row)
	}
	snap.leaks(&row)
	record(t, row)
}

func killTree(t *testing.T, row *faults.Row) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pidsA, err := shm.NewArray[int64](r, grandchildren+1)
	if err != nil {
		t.Fatal(err)
	}
	pids := pidsA.Slice()
	p, err := treeFn.Start(ctx, treeArg{Pids: pidsA.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for atomic.LoadInt64(&pids[grandchildren]) < grandchildren {
		if ctx.Err() != nil {
			row.Hangs++
			return
		}
		time.Sleep(time.Millisecond) // the grandchildren report through shared memory
	}
	p.Kill()
	killed := time.Now()
	p.Wait(ctx)
	row.Kills++
	row.Items += grandchildren
	for i := range grandchildren {
		pid := int(atomic.LoadInt64(&pids[i]))
		for syscall.Kill(pid, 0) == nil && !zombie(pid) {
			if time.Since(killed) > 5*time.Second {
				row.Hangs++
				row.Note = fmt.Sprintf("grandchild %d outlived its parent by 5 s", pid)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(time.Millisecond) // not our child: no wait(2) for it
		}
	}
	row.Recovery = append(row.Recovery, time.Since(killed))
}

// zombie reports whether pid is a zombie (dead, not yet reaped by its
// parent, which init does for an orphan).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] == 'Z'
		}
	}
	return false
}
