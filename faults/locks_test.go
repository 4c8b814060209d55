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

// Kill scenarios over locks: processes take the lock, check a guarded pair
// (x, -x), change it in two steps and unlock; random ones are SIGKILLed,
// holders among them. A locker that gets ErrOwnerDead repairs the pair and
// marks the lock consistent (pthread's robust-mutex model, docs/robust.md);
// a nil error over a broken pair is a torn section.

var lockKinds = []string{"mutex", "rlock", "rwmutex-writer", "rwmutex-reader"}

type lockArg struct {
	Kind   string
	Lock   shm.Handle
	Pair   shm.Handle // [2]int64, guarded by the lock
	Ctr    shm.Handle // [4]uint64: sections, torn, owner-dead, other errors
	Reader bool
}

// lockView is one process's view of a lock of any kind.
type lockView struct {
	lock, unlock func(context.Context) error
	mark         func()
}

func openLock(a lockArg) (lockView, error) {
	switch a.Kind {
	case "mutex":
		m, err := fsync.OpenMutex(a.Lock)
		if err != nil {
			return lockView{}, err
		}
		return lockView{m.LockContext, unlockFn(m.Unlock), m.MarkConsistent}, nil
	case "rlock":
		l, err := fsync.OpenRLock(a.Lock)
		if err != nil {
			return lockView{}, err
		}
		return lockView{l.LockContext, unlockFn(l.Unlock), l.MarkConsistent}, nil
	default:
		rw, err := fsync.OpenRWMutex(a.Lock)
		if err != nil {
			return lockView{}, err
		}
		if a.Reader {
			return lockView{rw.RLockContext, unlockFn(rw.RUnlock), nil}, nil
		}
		return lockView{rw.LockContext, unlockFn(rw.Unlock), rw.MarkConsistent}, nil
	}
}

func unlockFn(f func()) func(context.Context) error {
	return func(context.Context) error { f(); return nil }
}

var lockerFn = spawn.Register("faults.locker", func(ctx context.Context, a lockArg) (int, error) {
	v, err := openLock(a)
	if err != nil {
		return 0, err
	}
	pairA, err1 := shm.OpenArray[int64](a.Pair)
	ctrA, err2 := shm.OpenArray[uint64](a.Ctr)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	pair, ctr := pairA.Slice(), ctrA.Slice()
	for n := 0; ; n++ {
		if err := section(ctx, v, pair, ctr); err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
	}
})

// section runs one critical section. A reader only checks.
func section(ctx context.Context, v lockView, pair []int64, ctr []uint64) error {
	err := v.lock(ctx)
	switch {
	case errors.Is(err, fsync.ErrOwnerDead):
		atomic.AddUint64(&ctr[2], 1)
		if v.mark == nil { // a reader may not repair: the data may be torn, and it knows
			return v.unlock(ctx)
		}
		atomic.StoreInt64(&pair[1], -atomic.LoadInt64(&pair[0]))
		v.mark()
	case err != nil:
		return err
	}
	x, y := atomic.LoadInt64(&pair[0]), atomic.LoadInt64(&pair[1])
	if y != -x {
		atomic.AddUint64(&ctr[1], 1)
	}
	if v.mark != nil {
		atomic.StoreInt64(&pair[0], x+1)
		for range 50 { // a window for a kill between the two halves
			atomic.LoadInt64(&pair[0])
		}
		atomic.StoreInt64(&pair[1], -(x + 1))
	}
	atomic.AddUint64(&ctr[0], 1)
	return v.unlock(ctx)
}

func TestKillLockHolders(t *testing.T) {
	for _, kind := range lockKinds {
		t.Run(kind, func(t *testing.T) { killLockers(t, kind) })
	}
}

func newLock(r *shm.Region, kind string) (shm.Handle, error) {
	switch kind {
	case "mutex":
		m, err := fsync.NewMutex(r)
		if err != nil {
			return shm.Handle{}, err
		}
		return m.Handle(), nil
	case "rlock":
		l, err := fsync.NewRLock(r)
		if err != nil {
			return shm.Handle{}, err
		}
		return l.Handle(), nil
	}
	rw, err := fsync.NewRWMutex(r)
	if err != nil {
		return shm.Handle{}, err
	}
	return rw.Handle(), nil
}

func killLockers(t *testing.T, kind string) {
	rnd := rng(t)
	snap := takeSnapshot()
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	lh, err := newLock(r, kind)
	pair, err1 := shm.NewArray[int64](r, 2)
	ctr, err2 := shm.NewArray[uint64](r, 4)
	if err := errors.Join(err, err1, err2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	arg := func(i int) lockArg {
		return lockArg{kind, lh, pair.Handle(), ctr.Handle(), kind == "rwmutex-reader" && i > 0}
	}
	const n = 3
	procs := make([]*spawn.Process[int], n)
	for i := range procs {
		if procs[i], err = lockerFn.Start(ctx, arg(i), spawn.Share(r)); err != nil {
			t.Fatal(err)
		}
	}
	row := faults.Row{Scenario: "lock/" + kind}
	sections := &ctr.Slice()[0]
	deadline := time.Now().Add(budget())
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(1+rnd.IntN(20)) * time.Millisecond) // a random moment
		i := rnd.IntN(n)
		checkAlive(t, procs[i])
		before := atomic.LoadUint64(sections)
		procs[i].Kill()
		killed := time.Now()
		procs[i].Wait(ctx)
		row.Kills++
		if procs[i], err = lockerFn.Start(ctx, arg(i), spawn.Share(r)); err != nil {
			t.Fatal(err)
		}
		row.Recovery = append(row.Recovery, waitProgress(sections, before+uint64(n), killed, &row))
	}
	for _, p := range procs {
		checkAlive(t, p)
	}
	stopAll(t, procs)
	c := ctr.Slice()
	row.Items, row.Torn = int64(c[0]), int64(c[1])
	row.Note = fmt.Sprintf("%d ErrOwnerDead reports", c[2])
	r.Close()
	snap.leaks(&row)
	record(t, row)
}

// checkAlive reports a victim that ended before it was killed.
func checkAlive(t *testing.T, p *spawn.Process[int]) {
	select {
	case <-p.Done():
		_, err := p.Wait(context.Background())
		t.Errorf("process %d ended by itself: %v", p.Pid(), err)
	default:
	}
}
