package sync_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// Issue 12's Python semantics (Value and Array with their lock, Barrier's
// default timeout) and issue 16's Locker adapter, across processes.

type valueAddArg struct {
	Value, Array shm.Handle
	N            int
}

// valueAdd runs in a child: N locked read-modify-write rounds on the
// Value (yielding inside, so that a lost update would show), and one
// Update of the Array's last element through a negative index.
var valueAdd = spawn.Register("sync.valueAdd", func(ctx context.Context, a valueAddArg) (int64, error) {
	v, err := fsync.OpenValue[int64](a.Value)
	if err != nil {
		return 0, err
	}
	arr, err := fsync.OpenArray[int32](a.Array)
	if err != nil {
		return 0, err
	}
	for range a.N {
		if err := v.Update(ctx, func(p *int64) { x := *p; runtime.Gosched(); *p = x + 1 }); err != nil {
			return 0, err
		}
	}
	for range a.N {
		err := arr.Update(ctx, func(s []int32) { x := s[len(s)-1]; runtime.Gosched(); s[len(s)-1] = x + 1 })
		if err != nil {
			return 0, err
		}
	}
	if _, err := arr.Get(ctx, -arr.Len()-1); !errors.Is(err, shm.ErrRange) {
		return 0, fmt.Errorf("Get(-Len()-1) = %v, want ErrRange", err)
	}
	return v.Load(ctx)
})

// TestValueWithLockAcrossProcesses: Python's Value('q', 5) and
// Array('i', [1, 2, 3]) with their locks, updated by two processes.
func TestValueWithLockAcrossProcesses(t *testing.T) {
	r := region(t)
	v := must[*fsync.Value[int64]](t)(fsync.NewValue(r, int64(5)))
	arr := must[*fsync.Array[int32]](t)(fsync.NewArrayOf(r, []int32{1, 2, 3}))
	if x, err := v.Load(ctxT(t)); err != nil || x != 5 {
		t.Fatalf("initial value %d, %v; want 5", x, err)
	}
	const n = 2000
	ps := startAll(t, valueAdd, 2, valueAddArg{Value: v.Handle(), Array: arr.Handle(), N: n}, r)
	waitAll(t, ps)
	if x, _ := v.Load(ctxT(t)); x != 5+2*n {
		t.Fatalf("value %d after 2 x %d locked adds, want %d", x, n, 5+2*n)
	}
	if got, _ := arr.Get(ctxT(t), -1); got != 3+2*n {
		t.Fatalf("array[-1] = %d, want %d", got, 3+2*n)
	}
	if err := arr.Set(ctxT(t), -3, 9); err != nil || arr.Slice()[0] != 9 {
		t.Fatalf("Set(-3, 9): %v, array %v", err, arr.Slice())
	}
	// A handle of the wrong element type or kind is refused.
	if _, err := fsync.OpenValue[int32](v.Handle()); !errors.Is(err, shm.ErrType) {
		t.Fatalf("OpenValue[int32] of a Value[int64] = %v, want ErrType", err)
	}
	if _, err := fsync.OpenArray[int32](v.Handle()); !errors.Is(err, shm.ErrKind) {
		t.Fatalf("OpenArray of a Value handle = %v, want ErrKind", err)
	}
	if _, err := fsync.NewValue(r, 1, 2); !errors.Is(err, fsync.ErrInvalid) {
		t.Fatalf("NewValue with two initial values = %v, want ErrInvalid", err)
	}
}

// startHolder starts a child that holds a lock (holder's mode) and waits
// until it does; the child is killed at cleanup.
func startHolder(t *testing.T, r *shm.Region, h shm.Handle, mode int) *spawn.Process[int] {
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
	return p
}

func killAndReap(t *testing.T, p *spawn.Process[int]) {
	t.Helper()
	p.Kill()
	select {
	case <-p.Done():
	case <-ctxT(t).Done():
		t.Fatal("holder did not die")
	}
}

// TestValueHolderDied: a process dies holding a Value's lock half-way
// through a write. The next Load gets the value and ErrOwnerDead (it is
// the one told), and the lock is consistent again afterwards.
func TestValueHolderDied(t *testing.T) {
	r := region(t)
	v := must[*fsync.Value[int64]](t)(fsync.NewValue(r, int64(7)))
	killAndReap(t, startHolder(t, r, v.Handle(), modeValue))
	x, err := v.Load(ctxT(t))
	if !errors.Is(err, fsync.ErrOwnerDead) || x != -1 {
		t.Fatalf("Load after the holder died = %d, %v; want -1 and ErrOwnerDead", x, err)
	}
	if err := v.Store(ctxT(t), 8); err != nil {
		t.Fatalf("Store after the repair: %v", err)
	}
	if x, err := v.Load(ctxT(t)); err != nil || x != 8 {
		t.Fatalf("Load = %d, %v; want 8, nil", x, err)
	}
}

// TestLockerRepairsAfterOwnerDeath: a Locker's Lock after a holder's death
// runs the repair, marks the lock consistent and holds it; the lock then
// works as usual. For an RWMutex, RLocker repairs through the write lock.
func TestLockerRepairsAfterOwnerDeath(t *testing.T) {
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	killAndReap(t, startHolder(t, r, m.Handle(), modeMutex))
	repaired := 0
	lk := m.Locker(func() { repaired++ })
	lk.Lock()
	if repaired != 1 || m.Owner() == 0 {
		t.Fatalf("after Locker.Lock: %d repairs, owner %d; want 1 and this process", repaired, m.Owner())
	}
	lk.Unlock()
	if err := m.Lock(); err != nil {
		t.Fatalf("Lock after the Locker's repair: %v", err)
	}
	m.Unlock()

	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	killAndReap(t, startHolder(t, r, rw.Handle(), modeRWMutex))
	rl := rw.RLocker(func() { repaired++ })
	rl.Lock()
	if repaired != 2 || rw.Readers() != 1 {
		t.Fatalf("after RLocker.Lock: %d repairs, %d readers; want 2 and 1", repaired, rw.Readers())
	}
	rl.Unlock()
	wl := rw.Locker(nil)
	wl.Lock()
	wl.Unlock()
	if err := rw.Lock(); err != nil {
		t.Fatalf("Lock after the RLocker's repair: %v", err)
	}
	rw.Unlock()
}

// TestLockerPanicsOnNotRecoverable: an error a Locker cannot return makes
// it panic with a forkless/sync: Locker: message wrapping the error.
func TestLockerPanicsOnNotRecoverable(t *testing.T) {
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	killAndReap(t, startHolder(t, r, m.Handle(), modeMutex))
	if err := m.Lock(); !errors.Is(err, fsync.ErrOwnerDead) {
		t.Fatal(err)
	}
	m.Unlock() // without MarkConsistent: not recoverable
	defer func() {
		v := recover()
		err, ok := v.(error)
		if !ok || !strings.HasPrefix(err.Error(), "forkless/sync: Locker:") || !errors.Is(err, fsync.ErrNotRecoverable) {
			t.Fatalf("Locker.Lock of an unrecoverable lock panicked with %v, want a forkless/sync: Locker: error wrapping ErrNotRecoverable", v)
		}
	}()
	m.Locker(nil).Lock()
}

// TestBarrier_default_timeout mirrors CPython's test_default_timeout: a
// barrier made with a timeout, waited on by a child without one, breaks
// when nobody else comes, and every party then gets ErrBroken until Reset.
func TestBarrier_default_timeout(t *testing.T) {
	r := region(t)
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, 2))
	b.SetTimeout(150 * time.Millisecond)
	if b.Timeout() != 150*time.Millisecond {
		t.Fatalf("Timeout() = %v", b.Timeout())
	}
	ready := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	ready.Add(1)
	p, err := party.Start(ctxT(t), partyArg{Barrier: b.Handle(), Ready: ready.Handle(), Arrive: true}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(ctxT(t)); !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("child's Wait with the barrier's default timeout = %v, want ErrBroken", err)
	}
	if !b.Broken() {
		t.Fatal("barrier not broken after a timeout")
	}
	if _, err := b.Wait(); !errors.Is(err, fsync.ErrBroken) {
		t.Fatalf("Wait on a broken barrier = %v, want ErrBroken", err)
	}
	b.Reset()
	if b.Broken() {
		t.Fatal("barrier still broken after Reset")
	}
	// A ctx with its own deadline replaces the default (Python's
	// wait(timeout)): here a shorter one.
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Millisecond)
	defer cancel()
	if _, err := b.WaitContext(ctx); !errors.Is(err, fsync.ErrBroken) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitContext past its deadline = %v, want ErrBroken and DeadlineExceeded", err)
	}
}

// A Value with its lock (Python's Value('q', 0) and get_lock()): Update
// is a read-modify-write that no other process interleaves with.
func ExampleValue() {
	r, err := shm.New(1 << 16)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ctx := context.Background()
	v, _ := fsync.NewValue(r, int64(40))
	v.Update(ctx, func(p *int64) { *p += 2 }) // with v.get_lock(): v.value += 2
	x, _ := v.Load(ctx)
	fmt.Println(x)
	// Output: 42
}

// An Array with its lock; indexes may be negative, as in Python.
func ExampleArray() {
	r, err := shm.New(1 << 16)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ctx := context.Background()
	a, _ := fsync.NewArrayOf(r, []float64{1, 2, 3})
	a.Set(ctx, -1, 30)
	last, _ := a.Get(ctx, -1)
	_, err = a.Get(ctx, 3)
	fmt.Println(last, errors.Is(err, shm.ErrRange))
	// Output: 30 true
}

// A barrier's default timeout breaks it when a party does not come, as
// Python's Barrier(parties, timeout=...).
func ExampleBarrier_SetTimeout() {
	r, _ := shm.New(1 << 16)
	defer r.Close()
	b, _ := fsync.NewBarrier(r, 2)
	b.SetTimeout(10 * time.Millisecond)
	_, err := b.Wait() // nobody else comes
	fmt.Println(errors.Is(err, fsync.ErrBroken), b.Broken())
	// Output: true true
}

// TestTryUnlock: TryUnlock and TryMarkConsistent report what Unlock and
// MarkConsistent panic on, for a lock unlocked, held by another process,
// or after Close.
func TestTryUnlock(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	l := must[*fsync.RLock](t)(fsync.NewRLock(r))
	if err := m.TryUnlock(); !errors.Is(err, fsync.ErrNotHeld) {
		t.Fatalf("TryUnlock of an unlocked Mutex = %v, want ErrNotHeld", err)
	}
	if err := l.TryUnlock(); !errors.Is(err, fsync.ErrNotHeld) {
		t.Fatalf("TryUnlock of an unlocked RLock = %v, want ErrNotHeld", err)
	}
	m.Lock()
	l.Lock()
	l.Lock()
	if m.TryUnlock() != nil || l.TryUnlock() != nil || l.TryUnlock() != nil {
		t.Fatal("TryUnlock of held locks failed")
	}
	if m.Locked() || l.Depth() != 0 {
		t.Fatal("TryUnlock left the locks held")
	}
	if err := m.TryMarkConsistent(); !errors.Is(err, fsync.ErrNotHeld) {
		t.Fatalf("TryMarkConsistent of an unlocked Mutex = %v, want ErrNotHeld", err)
	}
	m.Lock()
	if err := m.TryMarkConsistent(); err != nil || m.TryUnlock() != nil {
		t.Fatalf("TryMarkConsistent of a held, consistent Mutex = %v", err)
	}
	p := startHolder(t, r, m.Handle(), modeMutex)
	if err := m.TryUnlock(); !errors.Is(err, fsync.ErrNotHeld) || m.Owner() != p.Pid() {
		t.Fatalf("TryUnlock of a Mutex held by pid %d = %v (owner now %d), want ErrNotHeld", p.Pid(), err, m.Owner())
	}
	if err := m.TryMarkConsistent(); !errors.Is(err, fsync.ErrNotHeld) || m.Owner() != p.Pid() {
		t.Fatalf("TryMarkConsistent of a Mutex held by pid %d = %v, want ErrNotHeld", p.Pid(), err)
	}
	r.Close()
	if err := m.TryUnlock(); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("TryUnlock after Close = %v, want ErrClosed", err)
	}
	if err := m.TryMarkConsistent(); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("TryMarkConsistent after Close = %v, want ErrClosed", err)
	}
}

// TryUnlock reports what Unlock would panic on: Python's "release
// unlocked lock".
func ExampleMutex_TryUnlock() {
	r, _ := shm.New(1 << 16)
	defer r.Close()
	mu, _ := fsync.NewMutex(r)
	mu.Lock()
	fmt.Println(mu.TryUnlock())
	err := mu.TryUnlock()
	fmt.Println(errors.Is(err, fsync.ErrNotHeld))
	// Output:
	// <nil>
	// true
}

// An RWMutex where the standard library wants a sync.Locker: its write
// lock, and its read lock as RLocker (as sync.RWMutex.RLocker).
func ExampleRWMutex_RLocker() {
	r, _ := shm.New(1 << 16)
	defer r.Close()
	rw, _ := fsync.NewRWMutex(r)
	var w, rl gosync.Locker = rw.Locker(nil), rw.RLocker(nil)
	rl.Lock()
	rl.Lock()
	fmt.Println(rw.Readers())
	rl.Unlock()
	rl.Unlock()
	w.Lock()
	fmt.Println(rw.TryRLock())
	w.Unlock()
	// Output:
	// 2
	// false
}

type travelArg struct {
	V *fsync.Value[int64]
	A *fsync.Array[int32]
}

// travelAdd runs in a child that received the Value and the Array
// themselves as its argument, bound, with their locks.
var travelAdd = spawn.Register("sync.travelAdd", func(ctx context.Context, a travelArg) (int64, error) {
	if err := a.V.Update(ctx, func(p *int64) { *p += 10 }); err != nil {
		return 0, err
	}
	if err := a.A.Set(ctx, -1, 7); err != nil {
		return 0, err
	}
	return a.V.Load(ctx)
})

// TestValueTravelsAsArgument: Python's Process(target=f, args=(v, arr)),
// the objects passed as they are (spawn shares their region).
func TestValueTravelsAsArgument(t *testing.T) {
	r := region(t)
	v := must[*fsync.Value[int64]](t)(fsync.NewValue(r, int64(1)))
	a := must[*fsync.Array[int32]](t)(fsync.NewArray[int32](r, 3))
	got, err := travelAdd.Run(ctxT(t), travelArg{V: v, A: a})
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := a.Get(ctxT(t), -1); got != 11 || last != 7 {
		t.Fatalf("child saw %d and set a[-1] = %d; want 11 and 7", got, last)
	}
}
