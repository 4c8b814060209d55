package sync

import (
	"errors"
	"testing"

	"github.com/forkless-go/forkless/shm"
)

// TestRLockForeignWordNamingThisProcess: another process writes this
// process's own identity into an RLock's owner word (a stale copy of the
// word, say), with a depth. This process holds nothing, so a Lock must not
// take the word for a recursive hold of its own (before the per-process
// record it did, and returned nil without the lock): it fails with
// ErrCorrupt, and Unlock refuses.
func TestRLockForeignWordNamingThisProcess(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := NewRLock(r)
	if err != nil {
		t.Fatal(err)
	}
	w := wordsOf[rlockWords](t, l.Handle())
	w.mutex.owner.Store(uint64(l.o.me))
	w.depth.Store(3)
	if err := l.Lock(); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Lock of an RLock whose word names this process, not held here = %v, want ErrCorrupt", err)
	}
	if l.TryLock() {
		t.Fatal("TryLock took a foreign hold for a recursive one")
	}
	if err := l.TryUnlock(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("TryUnlock = %v, want ErrNotHeld", err)
	}
	if d := l.Depth(); d != 0 {
		t.Fatalf("Depth = %d, want 0", d)
	}
	w.depth.Store(0) // the slow path: the word names this process, depth 0
	if err := l.Lock(); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Lock with depth 0 = %v, want ErrCorrupt", err)
	}
	// A real hold through two views of one RLock in this process still
	// re-enters: the record is per lock, not per view.
	w.mutex.owner.Store(0)
	l2, err := OpenRLock(l.Handle())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := l2.Lock(); err != nil || l.Depth() != 2 {
		t.Fatalf("second view's Lock: %v, depth %d; want nil, 2", err, l.Depth())
	}
	l2.Unlock()
	l.Unlock()
	if l.Depth() != 0 || l.m.Holder() != 0 {
		t.Fatalf("after two unlocks: depth %d, holder %#x", l.Depth(), l.m.Holder())
	}
}
