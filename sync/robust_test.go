package sync_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// The robust-lock model (docs/robust.md, issue 13): after a holder dies in
// its critical section, every locker gets ErrOwnerDead until one that holds
// the lock (a writer, for RWMutex) marks the data consistent; an unlock
// without that makes every later lock fail with ErrNotRecoverable.

// robustLock is one lock kind seen through a fresh view, as the model
// tests drive it.
type robustLock interface {
	lock(read bool) error
	unlock(read bool)
	markConsistent()
}

type mutexView struct{ m *fsync.Mutex }

func (v mutexView) lock(bool) error { return v.m.Lock() }
func (v mutexView) unlock(bool)     { v.m.Unlock() }
func (v mutexView) markConsistent() { v.m.MarkConsistent() }

// rlockView takes the RLock twice (re-entered) and releases it twice.
type rlockView struct{ l *fsync.RLock }

func (v rlockView) lock(bool) error {
	err := v.l.Lock()
	if errors.Is(err, fsync.ErrNotRecoverable) {
		return err
	}
	if err2 := v.l.Lock(); err2 != nil {
		return fmt.Errorf("re-entering: %w", err2)
	}
	return err
}

func (v rlockView) unlock(bool) {
	v.l.Unlock()
	v.l.Unlock()
}

func (v rlockView) markConsistent() { v.l.MarkConsistent() }

type rwView struct{ rw *fsync.RWMutex }

func (v rwView) lock(read bool) error {
	if read {
		return v.rw.RLock()
	}
	return v.rw.Lock()
}

func (v rwView) unlock(read bool) {
	if read {
		v.rw.RUnlock()
	} else {
		v.rw.Unlock()
	}
}

func (v rwView) markConsistent() { v.rw.MarkConsistent() }

// robustKinds are the lock kinds under the model, by the mode the holder
// child and the lockers take them in.
var robustKinds = map[int]struct {
	name  string
	reads bool // has shared (read) locks
	make  func(t *testing.T, r *shm.Region) shm.Handle
	open  func(h shm.Handle) (robustLock, error)
}{
	modeMutex: {
		name: "Mutex",
		make: func(t *testing.T, r *shm.Region) shm.Handle {
			return must[*fsync.Mutex](t)(fsync.NewMutex(r)).Handle()
		},
		open: func(h shm.Handle) (robustLock, error) {
			m, err := fsync.OpenMutex(h)
			return mutexView{m}, err
		},
	},
	modeRLock: {
		name: "RLock",
		make: func(t *testing.T, r *shm.Region) shm.Handle {
			return must[*fsync.RLock](t)(fsync.NewRLock(r)).Handle()
		},
		open: func(h shm.Handle) (robustLock, error) {
			l, err := fsync.OpenRLock(h)
			return rlockView{l}, err
		},
	},
	modeRWMutex: {
		name: "RWMutex", reads: true,
		make: func(t *testing.T, r *shm.Region) shm.Handle {
			return must[*fsync.RWMutex](t)(fsync.NewRWMutex(r)).Handle()
		},
		open: func(h shm.Handle) (robustLock, error) {
			rw, err := fsync.OpenRWMutex(h)
			return rwView{rw}, err
		},
	},
}

// Outcomes of one lock call, as a child reports them.
const (
	gotNil = iota
	gotOwnerDead
	gotNotRecoverable
)

func outcome(err error) (int, error) {
	switch {
	case err == nil:
		return gotNil, nil
	case errors.Is(err, fsync.ErrOwnerDead):
		return gotOwnerDead, nil
	case errors.Is(err, fsync.ErrNotRecoverable):
		return gotNotRecoverable, nil
	}
	return -1, err
}

var outcomeNames = []string{"nil", "ErrOwnerDead", "ErrNotRecoverable"}

type lockOnceArg struct {
	Lock       shm.Handle
	Mode       int
	Read, Mark bool
}

// lockOnce locks once in a child, marks the lock consistent if asked (and
// it got ErrOwnerDead), unlocks, and reports what the lock call returned.
var lockOnce = spawn.Register("sync.lockOnce", func(ctx context.Context, a lockOnceArg) (int, error) {
	l, err := robustKinds[a.Mode].open(a.Lock)
	if err != nil {
		return 0, err
	}
	got, err := outcome(l.lock(a.Read))
	if err != nil || got == gotNotRecoverable {
		return got, err
	}
	if got == gotOwnerDead && a.Mark {
		l.markConsistent()
	}
	l.unlock(a.Read)
	return got, nil
})

// killHolder makes a child take the lock (for writing) and SIGKILLs it
// there; it returns once the child is dead.
func killHolder(t *testing.T, r *shm.Region, h shm.Handle, mode int) {
	t.Helper()
	held := must[*fsync.Event](t)(fsync.NewEvent(r))
	p, err := holder.Start(ctxT(t), holdArg{Lock: h, Held: held.Handle(), Mode: mode}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	if err := held.WaitContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	<-p.Done()
}

// step is one locker of a model test: in this process or a child, reading
// or writing, marking consistent or not, and what its lock call must get.
type step struct {
	child, read, mark bool
	want              int
}

func runSteps(t *testing.T, r *shm.Region, h shm.Handle, mode int, steps []step) {
	t.Helper()
	for i, s := range steps {
		var got int
		if s.child {
			var err error
			got, err = lockOnce.Run(ctxT(t), lockOnceArg{Lock: h, Mode: mode, Read: s.read, Mark: s.mark}, spawn.Share(r))
			if err != nil {
				t.Fatalf("step %d (child): %v", i, err)
			}
		} else {
			l := must[robustLock](t)(robustKinds[mode].open(h))
			var err error
			if got, err = outcome(l.lock(s.read)); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got != gotNotRecoverable {
				if got == gotOwnerDead && s.mark {
					l.markConsistent()
				}
				l.unlock(s.read)
			}
		}
		if got != s.want {
			t.Fatalf("step %d (child %v, read %v, mark %v): lock returned %s, want %s",
				i, s.child, s.read, s.mark, outcomeNames[got], outcomeNames[s.want])
		}
	}
}

// A holder killed in its critical section: every later locker, reader or
// writer, in this process or another, gets ErrOwnerDead until one marks
// the data consistent; from its Unlock on, locks return nil.
func TestRobustOwnerDeadPersistsUntilConsistent(t *testing.T) {
	for mode, k := range robustKinds {
		t.Run(k.name, func(t *testing.T) {
			r := region(t)
			h := k.make(t, r)
			killHolder(t, r, h, mode)
			var steps []step
			if k.reads { // readers first: they see it and cannot repair
				steps = append(steps, step{read: true, want: gotOwnerDead}, step{child: true, read: true, want: gotOwnerDead})
			}
			steps = append(steps,
				step{child: true, want: gotOwnerDead, mark: true}, // repairs
				step{want: gotNil}, step{child: true, want: gotNil})
			if k.reads {
				steps = append(steps, step{read: true, want: gotNil}, step{child: true, read: true, want: gotNil})
			}
			runSteps(t, r, h, mode, steps)
		})
	}
}

// An Unlock after ErrOwnerDead without MarkConsistent makes the lock
// unrecoverable: every later lock call, of every process, fails.
func TestRobustUnlockWithoutConsistentNotRecoverable(t *testing.T) {
	for mode, k := range robustKinds {
		t.Run(k.name, func(t *testing.T) {
			r := region(t)
			h := k.make(t, r)
			killHolder(t, r, h, mode)
			steps := []step{
				{child: true, want: gotOwnerDead}, // unlocks without marking
				{want: gotNotRecoverable}, {child: true, want: gotNotRecoverable},
			}
			if k.reads {
				steps = append(steps, step{read: true, want: gotNotRecoverable}, step{child: true, read: true, want: gotNotRecoverable})
			}
			runSteps(t, r, h, mode, steps)
		})
	}
}

// A random-kill test: lockers in several processes update a pair (A, B)
// that must be equal outside the lock (writers bump A, dawdle, bump B),
// and the parent SIGKILLs one at random moments. No lock call may return
// nil while the pair is torn; a writer that gets ErrOwnerDead repairs the
// pair and marks the lock consistent. Bounded: 12 kills, or as many as
// fit in FORKLESS_SOAK. Only writers are killed: a reader killed between
// its two counting steps leaks its read lock for good (RWMutex's doc says
// so), which would hang the writers, not tear the pair.

type tornPair struct {
	A, B       int64
	Violations atomic.Int64 // lock calls that returned nil on a torn pair
	Dead       atomic.Int64 // lock calls that returned ErrOwnerDead
	Ops        atomic.Int64
}

type pairArg struct {
	Lock, Pair shm.Handle
	Mode       int
	Read       bool
	Started    shm.Handle // WaitGroup: Done once the loop runs
}

var pairWorker = spawn.Register("sync.pairWorker", func(ctx context.Context, a pairArg) (int, error) {
	l, err := robustKinds[a.Mode].open(a.Lock)
	if err != nil {
		return 0, err
	}
	v, err := shm.OpenValue[tornPair](a.Pair)
	if err != nil {
		return 0, err
	}
	started, err := fsync.OpenWaitGroup(a.Started)
	if err != nil {
		return 0, err
	}
	p := v.Ptr()
	started.Done()
	for ctx.Err() == nil {
		got, err := outcome(l.lock(a.Read))
		if err != nil {
			return 0, err
		}
		switch got {
		case gotNotRecoverable:
			return 0, fmt.Errorf("lock became unrecoverable though every writer marks it consistent")
		case gotNil:
			if p.A != p.B {
				p.Violations.Add(1)
			}
		case gotOwnerDead:
			p.Dead.Add(1)
			if !a.Read {
				p.B = p.A // repair
				l.markConsistent()
			}
		}
		if !a.Read {
			p.A++
			for range 64 {
				dawdle()
			}
			p.B++
		}
		p.Ops.Add(1)
		l.unlock(a.Read)
	}
	return 0, nil
})

func TestRobustRandomKill(t *testing.T) {
	kills, soak := 12, time.Duration(0)
	if d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK")); err == nil && d > 0 {
		kills, soak = 1<<30, d
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	for mode, k := range robustKinds {
		t.Run(k.name, func(t *testing.T) {
			r := region(t)
			h := k.make(t, r)
			pv := must[*shm.Value[tornPair]](t)(shm.NewValue[tornPair](r))
			started := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
			roles := []bool{false, false} // writers
			if k.reads {
				roles = append(roles, true, true)
			}
			start := func(read bool) *spawn.Process[int] {
				started.Add(1)
				p, err := pairWorker.Start(ctxT(t), pairArg{Lock: h, Pair: pv.Handle(), Mode: mode, Read: read, Started: started.Handle()}, spawn.Share(r))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Kill() })
				return p
			}
			ps := make([]*spawn.Process[int], len(roles))
			for i, read := range roles {
				ps[i] = start(read)
			}
			deadline := time.Now().Add(soak)
			torn, n := 0, 0
			for ; n < kills && (soak == 0 || time.Now().Before(deadline)); n++ {
				if err := started.WaitContext(ctxT(t)); err != nil { // all running
					t.Fatal(err)
				}
				ops, stuck := pv.Ptr().Ops.Load(), time.Now().Add(20*time.Second)
				for pv.Ptr().Ops.Load() < ops+int64(1+rnd.IntN(200)) { // a random moment
					if time.Now().After(stuck) {
						t.Fatalf("no progress for 20 s after %d kills", n)
					}
					time.Sleep(50 * time.Microsecond)
				}
				i := rnd.IntN(2) // a writer
				ps[i].Kill()
				<-ps[i].Done()
				if p := pv.Ptr(); !roles[i] && p.A != p.B {
					torn++ // killed inside its critical section (racy read: a log figure only)
				}
				ps[i] = start(roles[i])
			}
			for _, p := range ps {
				p.Kill()
				<-p.Done()
			}
			p := pv.Ptr()
			t.Logf("%d kills (pair seen torn right after %d of them), %d ops, %d calls got ErrOwnerDead", n, torn, p.Ops.Load(), p.Dead.Load())
			if n := p.Violations.Load(); n != 0 {
				t.Fatalf("%d lock calls returned nil on a torn pair", n)
			}
		})
	}
}
