package owner

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/proc"
)

func TestSelfIsThisProcess(t *testing.T) {
	me, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	if me.Pid() != os.Getpid() || me.HasWaiters() {
		t.Fatalf("Self() = %#x, pid %d", uint64(me), os.Getpid())
	}
	if got := me.ID().Start; got != uint32(proc.Self().Start) {
		t.Fatalf("start %d, want %d", got, uint32(proc.Self().Start))
	}
}

// The identity that cannot be an owner word is an error, never a panic.
func TestSelfErrorPath(t *testing.T) {
	for _, pid := range []int32{0, -1, PidMask + 1, 1<<31 - 1} {
		w, err := wordOf(proc.ID{Pid: pid, Start: 7})
		if err == nil || !errors.Is(err, errors.ErrUnsupported) || w != 0 {
			t.Errorf("wordOf(pid %d) = %#x, %v; want 0 and an ErrUnsupported error", pid, uint64(w), err)
		}
	}
	if w, err := wordOf(proc.ID{Pid: PidMask, Start: 1<<40 | 9}); err != nil || w != 9<<32|PidMask {
		t.Fatalf("wordOf(largest pid) = %#x, %v", uint64(w), err)
	}
}

func TestWordCodec(t *testing.T) {
	id := ID{Pid: 4_000_000, Start: 0xdeadbeef}
	w := id.Word()
	if w.ID() != id || w.Pid() != 4_000_000 || w.HasWaiters() {
		t.Fatalf("%#x decodes to %+v", uint64(w), w.ID())
	}
	ww := w | Waiters
	if !ww.HasWaiters() || ww.Holder() != w || ww.ID() != id {
		t.Fatalf("waiters bit: %#x", uint64(ww))
	}
	if w&Inconsistent != 0 || (ww|Inconsistent).Holder() != w {
		t.Fatal("bit 30 is the inconsistent bit, not part of the identity")
	}
	if !NotRecoverable.Lost() || !(NotRecoverable | Waiters).Lost() || w.Lost() || Word(0).Lost() {
		t.Fatal("Lost")
	}
	for _, v := range []Word{0, w, ww, w | Inconsistent, ww | Inconsistent, NotRecoverable, NotRecoverable | Waiters} {
		if !v.Valid() {
			t.Errorf("%#x not valid", uint64(v))
		}
	}
	for _, v := range []Word{Waiters, 1 << 32, NotRecoverable | 1<<32} {
		if v.Valid() {
			t.Errorf("%#x valid", uint64(v))
		}
	}
}

// ErrOwnerDead is registered: a child's error wrapping it is ErrOwnerDead
// in the parent too.
func TestErrOwnerDeadCrossesProcesses(t *testing.T) {
	err := errs.Roundtrip(fmt.Errorf("lock claim: %w", ErrOwnerDead))
	if !errors.Is(err, ErrOwnerDead) {
		t.Fatalf("%v is not ErrOwnerDead after the round trip", err)
	}
}

// So is ErrNotRecoverable.
func TestErrNotRecoverableCrossesProcesses(t *testing.T) {
	err := errs.Roundtrip(fmt.Errorf("lock mutex: %w", ErrNotRecoverable))
	if !errors.Is(err, ErrNotRecoverable) || errors.Is(err, ErrOwnerDead) {
		t.Fatalf("%v is not ErrNotRecoverable after the round trip", err)
	}
}
