package shared

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/forkless-go/forkless/shm"
)

// TestLockWordScribbledBeforeMark: a lock word written over between a
// takeover's repair and its MarkConsistent (here with an owner naming no
// process, 1<<40) makes the call answer ErrCorrupt, not panic (sync's
// MarkConsistent panics on a lock this process does not hold; the
// container uses TryMarkConsistent), and the next call takes the word
// over again and works. (With MarkConsistent, Set panicked.)
func TestLockWordScribbledBeforeMark(t *testing.T) {
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h, err := shm.NewHeap(r, 1<<19)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDict[string, int64](h)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set("a", 1); err != nil {
		t.Fatal(err)
	}
	lw, err := h.Bytes(d.Handle().Offset, 8) // the lock's owner word (containerHeader)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint64(lw, 1<<40) // a "dead holder": the next Set repairs
	defer func(f func()) { testHookRepaired = f }(testHookRepaired)
	testHookRepaired = func() { binary.LittleEndian.PutUint64(lw, 1<<40) }
	if err := d.Set("b", 2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Set whose lock word was scribbled before the mark = %v, want ErrCorrupt", err)
	}
	testHookRepaired = func() {}
	if err := d.Set("c", 3); err != nil {
		t.Fatalf("Set after: %v", err)
	}
	if v, ok, err := d.Get("c"); err != nil || !ok || v != 3 {
		t.Fatalf("Get(c) = %d, %v, %v", v, ok, err)
	}
}
