package sync_test

import (
	"errors"
	"testing"

	"github.com/forkless-go/forkless/shm"
	fsync "github.com/forkless-go/forkless/sync"
)

// strayWrite overwrites the words of the object h names with b repeated,
// as another process's stray write would (through the region's file, not
// through this process's view of the object).
func strayWrite(t *testing.T, r *shm.Region, h shm.Handle, b byte) {
	t.Helper()
	buf := make([]byte, h.Size)
	for i := range buf {
		buf[i] = b
	}
	if _, err := r.File().WriteAt(buf, h.Offset); err != nil {
		t.Fatal(err)
	}
}

// A lock's words that another process overwrites while this one holds the
// lock are hostile bytes, not this process's bug: Unlock, RUnlock,
// MarkConsistent and Cond.Wait do not panic on them (CI: the fault
// harness's scribbled Mutex made its bystander panic in Unlock), and the
// lock can be taken again afterwards. Unlocking what this process never
// took still panics, as sync's locks do (RUnlock: see its doc).
func TestStrayWriteUnderAHeldLockIsNoPanic(t *testing.T) {
	ctx := ctxT(t)
	r := region(t)

	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	if err := m.Lock(); err != nil {
		t.Fatal(err)
	}
	strayWrite(t, r, m.Handle(), 0xA5) // the owner word names no live process
	m.MarkConsistent()
	m.Unlock()
	if err := m.LockContext(ctx); err != nil && !errors.Is(err, fsync.ErrOwnerDead) {
		t.Fatalf("Lock after the stray write: %v", err)
	}
	m.MarkConsistent()
	m.Unlock()
	mustPanic(t, "Unlock of a Mutex this process does not hold", m.Unlock)

	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	if err := c.L.Lock(); err != nil {
		t.Fatal(err)
	}
	strayWrite(t, r, c.Handle(), 0) // its Mutex lives in its words
	if err := c.WaitContext(ctx); !errors.Is(err, fsync.ErrNotHeld) {
		t.Fatalf("Cond.Wait after its Mutex's word was zeroed = %v, want ErrNotHeld", err)
	}
	c.L.Unlock()

	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	if err := rw.Lock(); err != nil {
		t.Fatal(err)
	}
	strayWrite(t, r, rw.Handle(), 0)
	rw.MarkConsistent()
	rw.Unlock()
	if err := rw.RLock(); err != nil {
		t.Fatal(err)
	}
	strayWrite(t, r, rw.Handle(), 0)
	rw.RUnlock()
	if err := rw.LockContext(ctx); err != nil {
		t.Fatalf("Lock after the stray writes: %v", err)
	}
	rw.Unlock()
	mustPanic(t, "Unlock of an RWMutex this process does not hold", rw.Unlock)
	// A reader with a slot cannot tell an overwritten count from one
	// RUnlock too many (RUnlock's doc): it releases nothing.
	rw.RUnlock()
	if err := rw.LockContext(ctx); err != nil {
		t.Fatalf("Lock after an RUnlock too many: %v", err)
	}
	rw.Unlock()
}
