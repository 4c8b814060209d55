package sync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
)

// Zero bytes are every primitive's first state (XAt places on them).
func TestZeroWordsValid(t *testing.T) {
	for _, l := range []layout{
		new(mutexWords), new(rlockWords), new(rwMutexWords), new(semaphoreWords),
		new(condWords), new(eventWords), new(waitGroupWords), new(barrierWords), new(syncedWords),
	} {
		if err := l.validate(); err != nil {
			t.Errorf("%T zero: %v", l, err)
		}
	}
}

func wordsOf[T any](t *testing.T, h shm.Handle) *T {
	t.Helper()
	b, err := shm.BindHandle(h, h.Kind)
	if err != nil {
		t.Fatal(err)
	}
	return mapped.Must[T](b.Bytes(), 0)
}

// What another process could scribble where it matters is refused by
// OpenX with ErrCorrupt, not met later as a lock nobody can take.
func TestOpenRefusesScribbledWords(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, _ := NewMutex(r)
	wordsOf[mutexWords](t, m.Handle()).owner.Store(5 << 32) // a start time, no pid
	if _, err := OpenMutex(m.Handle()); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("OpenMutex of an owner naming pid 0: %v", err)
	}
	rw, _ := NewRWMutex(r)
	wordsOf[rwMutexWords](t, rw.Handle()).slots[3].id.Store(uint64(m.o.me) | 1<<30)
	if _, err := OpenRWMutex(rw.Handle()); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("OpenRWMutex with a reserved bit in a reader's id: %v", err)
	}
	s, _ := NewSemaphore(r, 1)
	wordsOf[semaphoreWords](t, s.Handle()).value.Store(1 << 31)
	if _, err := OpenSemaphore(s.Handle()); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("OpenSemaphore of value 2^31: %v", err)
	}
	c, _ := NewCond(r)
	wordsOf[condWords](t, c.Handle()).slots[5].state.Store(7)
	if _, err := OpenCond(c.Handle()); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("OpenCond with a waiter slot in state 7: %v", err)
	}
	c2, _ := NewCond(r)
	wordsOf[condWords](t, c2.Handle()).released.Store(3)
	if _, err := OpenCond(c2.Handle()); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("OpenCond with more tickets released than handed out: %v", err)
	}
	b, _ := NewBarrier(r, 2)
	wordsOf[barrierWords](t, b.Handle()).parties.Store(1 << 31)
	if _, err := OpenBarrier(b.Handle()); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("OpenBarrier of 2^31 parties: %v", err)
	}
}

// FuzzScribble writes arbitrary bytes over every primitive and opens it:
// Open refuses it or binds an object whose calls work or fail cleanly;
// nothing panics, hangs past its context, or touches memory outside the
// region. Blocking calls run with a 1 ms context (a scribbled owner word
// may name a live process, this one included).
func FuzzScribble(f *testing.F) {
	f.Add(make([]byte, 1024))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 64, 255, 255, 255, 255})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 127, 0, 0, 0, 0, 9, 0, 0, 0})
	r, err := shm.New(1 << 16)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	m, _ := NewMutex(r)
	rw, _ := NewRWMutex(r)
	s, _ := NewBoundedSemaphore(r, 3)
	br, _ := NewBarrier(r, 2)
	rl, _ := NewRLock(r)
	c, _ := NewCond(r)
	ev, _ := NewEvent(r)
	wg, _ := NewWaitGroup(r)
	v, _ := NewValue[int64](r)
	hs := []shm.Handle{m.Handle(), rw.Handle(), s.Handle(), br.Handle(), rl.Handle(), c.Handle(), ev.Handle(), wg.Handle(), v.Handle()}
	f.Fuzz(func(t *testing.T, junk []byte) {
		for _, h := range hs {
			b, err := shm.BindHandle(h, h.Kind)
			if err != nil {
				t.Fatal(err)
			}
			copy(b.Bytes(), junk)
		}
		scribbled(t, hs)
	})
}

// scribbled runs every primitive's calls over scribbled words.
func scribbled(t *testing.T, hs []shm.Handle) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if x, err := OpenMutex(hs[0]); err == nil {
		if x.TryLock() {
			x.TryUnlock()
		}
		if err := x.LockContext(ctx); err == nil || errors.Is(err, ErrOwnerDead) {
			x.TryUnlock()
		}
	}
	// Forged reader slots (all taken, by dead processes, with large
	// counts) can make the slot claim that follows TryRLock take its read
	// lock back: unlock only what is still held. Open cannot check the
	// slots against the reader word: no snapshot of both is consistent
	// while other processes read.
	if x, err := OpenRWMutex(hs[1]); err == nil {
		if x.TryRLock() && x.Readers() > 0 {
			x.RUnlock()
		}
		if err := x.LockContext(ctx); err == nil || errors.Is(err, ErrOwnerDead) {
			x.MarkConsistent()
			x.Unlock()
		}
	}
	if x, err := OpenBoundedSemaphore(hs[2]); err == nil {
		if x.TryAcquire() {
			x.Release()
		}
		x.AcquireContext(ctx)
	}
	if x, err := OpenBarrier(hs[3]); err == nil {
		x.Waiting()
		x.WaitContext(ctx)
	}
	if x, err := OpenRLock(hs[4]); err == nil {
		if err := x.LockContext(ctx); err == nil || errors.Is(err, ErrOwnerDead) {
			x.TryUnlock()
		}
	}
	if x, err := OpenCond(hs[5]); err == nil {
		x.Notify(2)
		x.Broadcast()
		x.Waiting()
	}
	if x, err := OpenEvent(hs[6]); err == nil {
		x.IsSet()
		x.WaitContext(ctx)
	}
	if x, err := OpenWaitGroup(hs[7]); err == nil {
		x.Count()
		x.WaitContext(ctx)
	}
	if x, err := OpenValue[int64](hs[8]); err == nil {
		x.Load(ctx)
	}
}
