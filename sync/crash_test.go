package sync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// Crash tests: a child takes a lock, says so, and is killed with SIGKILL
// while holding it. The parent must get the lock with ErrOwnerDead within
// 250 ms, and the lock must then work as usual.

type holdArg struct {
	Lock, Held shm.Handle
	Mode       int
}

var holder = spawn.Register("sync.holder", func(ctx context.Context, a holdArg) (int, error) {
	held, err := fsync.OpenEvent(a.Held)
	if err != nil {
		return 0, err
	}
	switch a.Mode {
	case modeMutex:
		m, err := fsync.OpenMutex(a.Lock)
		if err != nil {
			return 0, err
		}
		if err := m.Lock(); err != nil {
			return 0, err
		}
	case modeRLock:
		l, err := fsync.OpenRLock(a.Lock)
		if err != nil {
			return 0, err
		}
		for range 3 {
			if err := l.Lock(); err != nil {
				return 0, err
			}
		}
	case modeRWMutex:
		rw, err := fsync.OpenRWMutex(a.Lock)
		if err != nil {
			return 0, err
		}
		if err := rw.Lock(); err != nil {
			return 0, err
		}
	}
	if a.Mode == modeValue {
		v, err := fsync.OpenValue[int64](a.Lock)
		if err != nil {
			return 0, err
		}
		if err := v.Mutex().Lock(); err != nil {
			return 0, err
		}
		*v.Ptr() = -1 // half-way through an update
	}
	if a.Mode == modeRWRead {
		rw, err := fsync.OpenRWMutex(a.Lock)
		if err != nil {
			return 0, err
		}
		for range 2 {
			if err := rw.RLock(); err != nil {
				return 0, err
			}
		}
	}
	held.Set()
	<-ctx.Done() // hold until killed
	return 0, nil
})

type crashCase struct {
	name string
	mode int
	make func(t *testing.T, r *shm.Region) shm.Handle
	// lock locks through a fresh view; it returns the unlock and the
	// view's MarkConsistent (nil for a reader, which cannot repair).
	lock func(h shm.Handle) (err error, unlock, mark func())
}

var crashCases = []crashCase{
	{
		name: "Mutex", mode: modeMutex,
		make: func(t *testing.T, r *shm.Region) shm.Handle {
			return must[*fsync.Mutex](t)(fsync.NewMutex(r)).Handle()
		},
		lock: func(h shm.Handle) (error, func(), func()) {
			m, _ := fsync.OpenMutex(h)
			return m.Lock(), m.Unlock, m.MarkConsistent
		},
	},
	{
		name: "RLock", mode: modeRLock,
		make: func(t *testing.T, r *shm.Region) shm.Handle {
			return must[*fsync.RLock](t)(fsync.NewRLock(r)).Handle()
		},
		lock: func(h shm.Handle) (error, func(), func()) {
			l, _ := fsync.OpenRLock(h)
			err := l.Lock()
			if d := l.Depth(); d != 1 {
				return errors.New("recovered RLock has depth other than 1"), l.Unlock, l.MarkConsistent
			}
			return err, l.Unlock, l.MarkConsistent
		},
	},
	{
		name: "RWMutex writer", mode: modeRWMutex,
		make: func(t *testing.T, r *shm.Region) shm.Handle {
			return must[*fsync.RWMutex](t)(fsync.NewRWMutex(r)).Handle()
		},
		lock: func(h shm.Handle) (error, func(), func()) {
			rw, _ := fsync.OpenRWMutex(h)
			return rw.Lock(), rw.Unlock, rw.MarkConsistent
		},
	},
	{
		name: "RWMutex reader", mode: modeRWMutex,
		make: func(t *testing.T, r *shm.Region) shm.Handle {
			return must[*fsync.RWMutex](t)(fsync.NewRWMutex(r)).Handle()
		},
		lock: func(h shm.Handle) (error, func(), func()) {
			rw, _ := fsync.OpenRWMutex(h)
			return rw.RLock(), rw.RUnlock, nil
		},
	},
}

func TestCrashHolderRecovered(t *testing.T) {
	for _, tc := range crashCases {
		for _, blocked := range []bool{false, true} {
			name := tc.name + "/after-kill"
			if blocked {
				name = tc.name + "/blocked-before-kill"
			}
			t.Run(name, func(t *testing.T) {
				r := region(t)
				h := tc.make(t, r)
				held := must[*fsync.Event](t)(fsync.NewEvent(r))
				p, err := holder.Start(ctxT(t), holdArg{Lock: h, Held: held.Handle(), Mode: tc.mode}, spawn.Share(r))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Kill() })
				if err := held.WaitContext(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				type result struct {
					err          error
					unlock, mark func()
					at           time.Time
				}
				got := make(chan result, 1)
				lockNow := func() {
					err, unlock, mark := tc.lock(h)
					got <- result{err, unlock, mark, time.Now()}
				}
				if blocked {
					go lockNow()
					time.Sleep(300 * time.Millisecond) // long enough for the naps to reach their longest
					select {
					case res := <-got:
						t.Fatalf("lock returned %v while the holder lived", res.err)
					default:
					}
				}
				killed := time.Now()
				if err := p.Kill(); err != nil {
					t.Fatal(err)
				}
				if !blocked {
					go lockNow()
				}
				var dead time.Time
				select {
				case <-p.Done(): // reaped: dead for sure
					dead = time.Now()
				case <-time.After(10 * time.Second):
					t.Fatal("killed child not reaped")
				}
				var res result
				select {
				case res = <-got:
				case <-time.After(10 * time.Second):
					t.Fatal("lock held by a dead process was never recovered")
				}
				// The kernel takes a while to kill a process on a loaded
				// machine; the bound is on the time after it died.
				d := max(res.at.Sub(dead), 0)
				t.Logf("recovered %v after the kill, %v after the death", res.at.Sub(killed), d)
				if !errors.Is(res.err, fsync.ErrOwnerDead) {
					t.Fatalf("lock after the holder died = %v, want ErrOwnerDead", res.err)
				}
				if d > 250*time.Millisecond {
					t.Errorf("recovery took %v, want within 250 ms", d)
				}
				// The data is consistent (nothing to repair here): mark it
				// so, or, for a reader, which cannot, have a writer do it.
				if res.mark != nil {
					res.mark()
					res.unlock()
				} else {
					res.unlock()
					markByWriter(t, h)
				}
				// Works as usual: a lock and unlock by the parent, then by a
				// child under contention.
				err, unlock, _ := tc.lock(h)
				if err != nil {
					t.Fatalf("lock after recovery = %v", err)
				}
				unlock()
				if tc.mode != modeRWMutex || tc.name == "RWMutex writer" {
					c := must[*shm.Value[int64]](t)(shm.NewValue[int64](r))
					ctr := c.Handle()
					if tc.mode == modeRWMutex {
						v := must[*shm.Value[pair]](t)(shm.NewValue[pair](r))
						ctr = v.Handle()
					}
					waitAll(t, startAll(t, incWorker, 2, incArg{Lock: h, Counter: ctr, N: 1000, Mode: tc.mode}, r))
					if tc.mode != modeRWMutex && *c.Ptr() != 2000 {
						t.Fatalf("counter %d after recovery, want 2000", *c.Ptr())
					}
				}
			})
		}
	}
}

const (
	modeRWRead = 100
	modeValue  = 101 // an fsync.Value[int64]: its Mutex, and a write
)

// A reader that dies holding read locks does not block writers for good.
func TestCrashReaderRecovered(t *testing.T) {
	r := region(t)
	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	if err := rw.RLock(); err != nil { // a live reader of this process too
		t.Fatal(err)
	}
	held := must[*fsync.Event](t)(fsync.NewEvent(r))
	p, err := holder.Start(ctxT(t), holdArg{Lock: rw.Handle(), Held: held.Handle(), Mode: modeRWRead}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	if err := held.WaitContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if rw.Readers() != 3 {
		t.Fatalf("%d readers, want 3", rw.Readers())
	}
	p.Kill()
	<-p.Done()
	rw.RUnlock() // the live reader leaves; the dead one's two remain
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rw.LockContext(ctx); err != nil {
		t.Fatalf("writer with a dead reader: %v", err)
	}
	t.Logf("writer got the lock %v after the reader died", time.Since(start))
	if rw.Readers() != 0 {
		t.Fatalf("%d readers left", rw.Readers())
	}
	rw.Unlock()
	if err := rw.RLock(); err != nil {
		t.Fatal(err)
	}
	rw.RUnlock()
}

// A barrier whose party dies breaks rather than hangs.

type partyArg struct {
	Barrier, Ready shm.Handle
	Arrive         bool
}

var party = spawn.Register("sync.party", func(ctx context.Context, a partyArg) (int, error) {
	b, err := fsync.OpenBarrier(a.Barrier)
	if err != nil {
		return 0, err
	}
	ready, err := fsync.OpenWaitGroup(a.Ready)
	if err != nil {
		return 0, err
	}
	ready.Done()
	if !a.Arrive {
		<-ctx.Done() // opened the barrier, never arrives: killed
		return 0, nil
	}
	_, err = b.WaitContext(ctx)
	return 0, err
})

func TestBarrierDeadPartyBreaks(t *testing.T) {
	r := region(t)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 3))
	ready := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	ready.Add(2)
	waiter, err := party.Start(ctxT(t), partyArg{Barrier: b.Handle(), Ready: ready.Handle(), Arrive: true}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waiter.Kill() })
	doomed, err := party.Start(ctxT(t), partyArg{Barrier: b.Handle(), Ready: ready.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { doomed.Kill() })
	if err := ready.WaitContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := b.WaitContext(ctxT(t)); errc <- err }()
	time.Sleep(100 * time.Millisecond)
	killed := time.Now()
	doomed.Kill()
	select {
	case err := <-errc:
		t.Logf("broken %v after the kill: %v", time.Since(killed), err)
		if !errors.Is(err, fsync.ErrBroken) {
			t.Fatalf("Wait with a dead party = %v, want ErrBroken", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("barrier with a dead party hung")
	}
	if _, err := waiter.Wait(ctxT(t)); err == nil || !contains(err.Error(), "barrier broken") {
		t.Fatalf("the other waiter got %v, want a broken barrier", err)
	}
	if !b.Broken() {
		t.Fatal("barrier not Broken")
	}
	b.Reset() // forgets the dead member
	b2 := must[*fsync.Barrier](t)(fsync.OpenBarrier(b.Handle()))
	done := make(chan error, 2)
	for range 2 {
		go func() { _, err := b2.WaitContext(ctxT(t)); done <- err }()
	}
	if _, err := b.WaitContext(ctxT(t)); err != nil {
		t.Fatalf("barrier after Reset: %v", err)
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// markByWriter repairs an owner-dead RWMutex as a writer: its Lock must
// report ErrOwnerDead, and it marks the lock consistent.
func markByWriter(t *testing.T, h shm.Handle) {
	t.Helper()
	rw := must[*fsync.RWMutex](t)(fsync.OpenRWMutex(h))
	if err := rw.Lock(); !errors.Is(err, fsync.ErrOwnerDead) {
		t.Fatalf("writer after a reader saw the dead writer: %v, want ErrOwnerDead", err)
	}
	rw.MarkConsistent()
	rw.Unlock()
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func errIsOwnerDead(err error) bool { return errors.Is(err, fsync.ErrOwnerDead) }

type midReadArg struct {
	Lock, Inside shm.Handle
}

// midRead runs in a child: its RLock stops inside its counting steps,
// where the parent kills it.
var midRead = spawn.Register("sync.midRead", func(ctx context.Context, a midReadArg) (int, error) {
	rw, err := fsync.OpenRWMutex(a.Lock)
	if err != nil {
		return 0, err
	}
	inside, err := fsync.OpenEvent(a.Inside)
	if err != nil {
		return 0, err
	}
	fsync.SetRLockHook(func() {
		inside.Set()
		<-ctx.Done() // killed here
	})
	return 0, rw.RLock()
})

// TestCrashReaderMidRLock: a reader SIGKILLed in the middle of its RLock
// must not leak a read lock: a writer gets the lock once it has napped.
// Before per-process reader counts, the reader word said one reader more
// than the slots, and the writer waited for ever.
func TestCrashReaderMidRLock(t *testing.T) {
	r := region(t)
	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	inside := must[*fsync.Event](t)(fsync.NewEvent(r))
	p, err := midRead.Start(ctxT(t), midReadArg{Lock: rw.Handle(), Inside: inside.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	if err := inside.WaitContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	<-p.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rw.LockContext(ctx); err != nil {
		t.Fatalf("writer after a reader died inside RLock: %v (%d readers)", err, rw.Readers())
	}
	if n := rw.Readers(); n != 0 {
		t.Fatalf("%d readers left", n)
	}
	rw.Unlock()
}
