package sync

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/shm"
)

// A lock whose owner word names this very pid with another start time was
// taken by an earlier process that had the same pid (pid reuse). The pid is
// alive (it is us), yet the holder is dead: Lock must take the lock with
// ErrOwnerDead, not wait for ever or take it silently.
func TestPidReuseDoesNotFoolOwnerCheck(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, err := NewMutex(r)
	if err != nil {
		t.Fatal(err)
	}
	me := m.m.Me()
	earlier := me + 1<<32 // same pid, start time one tick different
	ownerWord(m).Store(uint64(earlier))
	if owner.Alive(earlier) {
		t.Fatal("a holder with our pid but another start time counts as alive")
	}
	start := time.Now()
	if err := m.Lock(); !errors.Is(err, ErrOwnerDead) {
		t.Fatalf("Lock over a reused pid = %v, want ErrOwnerDead", err)
	}
	t.Logf("taken after %v", time.Since(start))
	if m.m.Holder().Holder() != me {
		t.Fatal("the lock does not name this process after recovery")
	}
	m.MarkConsistent()
	m.Unlock()
	if m.Locked() {
		t.Fatal("still locked after Unlock")
	}
}

// A live holder's lock is never taken: a waiter that slept past several
// liveness checks still times out on its context.
func TestLiveHolderKeepsLock(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, _ := NewMutex(r)
	// The holder is our parent process (the go command), alive throughout.
	ppid := os.Getppid()
	st, err := proc.StartTime(ppid)
	if err != nil {
		t.Skip("no start time for the parent:", err)
	}
	ownerWord(m).Store(uint64(uint32(st))<<32 | uint64(ppid))
	defer ownerWord(m).Store(0)
	ctx, cancel := contextWithTimeout(100 * time.Millisecond)
	defer cancel()
	if err := m.LockContext(ctx); !errors.Is(err, errDeadline) {
		t.Fatalf("LockContext against a live holder = %v, want DeadlineExceeded", err)
	}
	if got := uint64(m.m.Holder().Holder()); got != uint64(uint32(st))<<32|uint64(ppid) {
		t.Fatalf("owner word changed to %x", got)
	}
}

// ownerWord is m's owner word, for tests that forge a holder.
func ownerWord(m *Mutex) *atomic.Uint64 {
	return &mapped.Must[mutexWords](m.o.b.Bytes(), int(m.o.off)).owner
}
