package sync_test

import (
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	fsync "github.com/forkless-go/forkless/sync"
)

// FuzzOpen feeds forged handles into every Open function. A handle is the
// one thing of this package that arrives from outside (another process, a
// file, a string): whatever it holds, Open must refuse it or bind a working
// object, never panic or touch memory outside the region.
func FuzzOpen(f *testing.F) {
	r, err := shm.New(1 << 16)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	m, _ := fsync.NewMutex(r)
	b, _ := fsync.NewBarrier(r, 2)
	s, _ := fsync.NewBoundedSemaphore(r, 3)
	v, _ := fsync.NewValue[int64](r)
	a, _ := fsync.NewArray[int32](r, 5)
	for _, h := range []shm.Handle{m.Handle(), b.Handle(), s.Handle(), v.Handle(), a.Handle()} {
		f.Add(h.Offset, h.Size, uint16(h.Kind))
	}
	f.Add(int64(0), int64(8), uint16(fsync.KindMutex))
	f.Add(int64(-64), int64(1<<40), uint16(fsync.KindBarrier))
	f.Fuzz(func(t *testing.T, off, size int64, kind uint16) {
		h := m.Handle()
		h.Offset, h.Size, h.Kind = off, size, shm.Kind(kind)
		if x, err := fsync.OpenMutex(h); err == nil && x.TryLock() {
			x.Unlock()
		}
		if x, err := fsync.OpenRLock(h); err == nil && x.TryLock() {
			x.Unlock()
		}
		if x, err := fsync.OpenRWMutex(h); err == nil && x.TryRLock() {
			x.RUnlock()
		}
		if x, err := fsync.OpenSemaphore(h); err == nil && x.TryAcquire() {
			x.Release()
		}
		if x, err := fsync.OpenBoundedSemaphore(h); err == nil && x.TryAcquire() {
			x.Release()
		}
		if x, err := fsync.OpenEvent(h); err == nil {
			x.IsSet()
		}
		if x, err := fsync.OpenCond(h); err == nil {
			x.Signal()
		}
		if x, err := fsync.OpenWaitGroup(h); err == nil {
			x.Count()
		}
		if x, err := fsync.OpenBarrier(h); err == nil {
			x.Waiting()
		}
		if x, err := fsync.OpenValue[int64](h); err == nil && x.Mutex().TryLock() {
			x.Mutex().Unlock()
		}
		if x, err := fsync.OpenArray[int32](h); err == nil {
			x.Len()
		}
	})
}

// TestSoakCrashUnderContention runs for FORKLESS_SOAK (a duration; skipped
// when unset): rounds of children hammering one Mutex while the parent
// SIGKILLs one of them at a random moment. Every round must finish (nobody
// hangs on the dead holder) and the lock must work afterwards.
func TestSoakCrashUnderContention(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set FORKLESS_SOAK=30s to run")
	}
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	c := must[*shm.Value[int64]](t)(shm.NewValue[int64](r))
	end := time.Now().Add(d)
	rounds := 0
	for time.Now().Before(end) {
		ps := startAll(t, incWorker, 3, incArg{Lock: m.Handle(), Counter: c.Handle(), N: 1 << 30, Mode: modeMutex}, r)
		time.Sleep(time.Duration(5+rounds%40) * time.Millisecond)
		ps[rounds%3].Kill()
		time.Sleep(20 * time.Millisecond)
		for _, p := range ps {
			p.Kill()
		}
		for _, p := range ps {
			select {
			case <-p.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("child did not die")
			}
		}
		// Recovery must take well under a second whatever state it is in.
		start := time.Now()
		err := m.Lock()
		if err != nil && !errIsOwnerDead(err) {
			t.Fatal(err)
		}
		if err != nil {
			// The counter needs no repair: a torn increment is only a
			// lost one. Without this the lock would be unrecoverable.
			m.MarkConsistent()
		}
		m.Unlock()
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("round %d: lock took %v after the children died", rounds, el)
		}
		rounds++
	}
	t.Logf("%d rounds, counter %d", rounds, *c.Ptr())
}
