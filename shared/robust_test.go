package shared_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/spawn"
)

// Offsets in a container's header block (layout.go's containerHeader): the
// lock's owner word and the change sequence.
const (
	lockWordOff  = 0
	rootWordOff  = 88
	countWordOff = 96
	seqWordOff   = 8
)

// headerWord returns the 8-byte word at off of the header of the container
// hd names, as bytes another process could write.
func headerWord(t *testing.T, m *shared.Manager, hd shared.Handle, off int64) []byte {
	t.Helper()
	return must[[]byte](t)(m.Heap().Bytes(hd.Offset+off, 8))
}

// within fails the test unless fn returns within d (a hang is the bug).
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		panic("unreachable")
	}
}

// TestDictLockWordScribbled is issue 13's stray write into a Dict's lock
// word: an owner naming no process (1<<40: pid 0) set while the lock is
// free makes the next Set take the lock over as a dead holder's, within a
// nap, not hang; set while Update holds the lock, Update's release answers
// ErrCorrupt instead of panicking, and the dict goes on working.
func TestDictLockWordScribbled(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	if err := d.Set("a", 1); err != nil {
		t.Fatal(err)
	}
	lw := headerWord(t, m, d.Handle(), lockWordOff)
	binary.LittleEndian.PutUint64(lw, 1<<40)
	if err := within(t, 5*time.Second, "Set on a scribbled lock word", func() error { return d.Set("b", 2) }); err != nil {
		t.Fatalf("Set on a scribbled lock word: %v", err)
	}
	for _, word := range []uint64{1 << 40, 0} {
		err := within(t, 5*time.Second, "Update", func() error {
			_, _, err := d.Update("a", func(v int64, ok bool) (int64, bool) {
				binary.LittleEndian.PutUint64(lw, word) // while held
				return v + 1, true
			})
			return err
		})
		if !errors.Is(err, shared.ErrCorrupt) {
			t.Fatalf("Update whose lock word became %#x while held: %v, want ErrCorrupt", word, err)
		}
	}
	for i, k := range []string{"a", "b"} {
		if err := within(t, 5*time.Second, "Set after", func() error { return d.Set(k, int64(10+i)) }); err != nil {
			t.Fatalf("Set after the scribbles: %v", err)
		}
		if v, ok, err := d.Get(k); err != nil || !ok || v != int64(10+i) {
			t.Fatalf("Get(%s) after the scribbles = %d, %v, %v", k, v, ok, err)
		}
	}
}

// TestListLockWordScribbled is the same for a List, a ShareableList and a
// Record: a lock word changed while Update holds it is ErrCorrupt, never a
// panic, and the container works after.
func TestListLockWordScribbled(t *testing.T) {
	m := newManager(t, 1<<20)
	l := must[*shared.List[int64]](t)(shared.NewList[int64](m.Heap()))
	sl := must[*shared.ShareableList[int64]](t)(shared.NewShareableList(m.Heap(), []int64{1}))
	rec := must[*shared.Record[int64]](t)(shared.NewRecord(m.Heap(), int64(1)))
	if err := l.Append(1); err != nil {
		t.Fatal(err)
	}
	updates := []struct {
		hd     shared.Handle
		update func(fn func(int64) int64) error
		get    func() (int64, error)
	}{
		{l.Handle(), func(fn func(int64) int64) error { _, err := l.Update(0, fn); return err }, func() (int64, error) { return l.Get(0) }},
		{sl.Handle(), func(fn func(int64) int64) error { _, err := sl.Update(0, fn); return err }, func() (int64, error) { return sl.Get(0) }},
		{rec.Handle(), func(fn func(int64) int64) error { _, err := rec.Update(fn); return err }, rec.Load},
	}
	for _, u := range updates {
		lw := headerWord(t, m, u.hd, lockWordOff)
		err := within(t, 5*time.Second, "Update", func() error {
			return u.update(func(v int64) int64 { binary.LittleEndian.PutUint64(lw, 1<<40); return v + 1 })
		})
		if !errors.Is(err, shared.ErrCorrupt) {
			t.Fatalf("%v: Update whose lock word changed while held: %v, want ErrCorrupt", u.hd.Kind, err)
		}
		// The change was published before the release failed; the next
		// locker takes the word over.
		if v, err := within(t, 5*time.Second, "Get", func() result { v, err := u.get(); return result{v, err} }).unpack(); err != nil || v != 2 {
			t.Fatalf("%v: Get after = %d, %v", u.hd.Kind, v, err)
		}
	}
}

type result struct {
	v int64
	e error
}

func (r result) unpack() (int64, error) { return r.v, r.e }

// TestDictOddSeqScribbled: a change sequence left odd by a stray write is
// evened by the next change, so Get does not fall back on the lock for good.
func TestDictOddSeqScribbled(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	seq := headerWord(t, m, d.Handle(), seqWordOff)
	binary.LittleEndian.PutUint64(seq, 7)
	if err := d.Set("a", 1); err != nil {
		t.Fatal(err)
	}
	if s := binary.LittleEndian.Uint64(seq); s%2 != 0 {
		t.Fatalf("change sequence after a Set = %d, odd: every Get takes the lock", s)
	}
}

// TestDictCountScribbled: entry and tombstone counts written over by
// another process are recounted from the table under the lock, so Set and
// Len go on working instead of failing with ErrCorrupt for good.
func TestDictCountScribbled(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	for i := range 3 {
		d.Set(string(rune('a'+i)), int64(i))
	}
	for _, off := range []int64{countWordOff, countWordOff + 8} { // count, tombs
		binary.LittleEndian.PutUint64(headerWord(t, m, d.Handle(), off), 1<<40)
		for i := range 20 {
			if err := d.Set(fmt.Sprint("n", off, i), int64(i)); err != nil {
				t.Fatalf("Set after the word at %d became 1<<40: %v", off, err)
			}
		}
	}
	if d.Len() != 43 {
		t.Fatalf("Len = %d, want 43", d.Len())
	}
}

// TestShareableList_empty mirrors CPython's
// test_shared_memory_ShareableList_basics empty case (ShareableList() is a
// list of length 0): Len 0, reads and writes out of range fail with
// ErrIndex, and a child opens it from its handle.
func TestShareableList_empty(t *testing.T) {
	m := newManager(t, 1<<20)
	sl, err := shared.NewShareableList[int64](m.Heap(), nil)
	if err != nil {
		t.Fatalf("NewShareableList with no items: %v", err)
	}
	if sl.Len() != 0 {
		t.Fatalf("Len = %d, want 0", sl.Len())
	}
	if _, err := sl.Get(0); !errors.Is(err, shared.ErrIndex) {
		t.Fatalf("Get(0) = %v, want ErrIndex", err)
	}
	if _, err := sl.Get(-1); !errors.Is(err, shared.ErrIndex) {
		t.Fatalf("Get(-1) = %v, want ErrIndex", err)
	}
	if err := sl.Set(0, 1); !errors.Is(err, shared.ErrIndex) {
		t.Fatalf("Set(0) = %v, want ErrIndex", err)
	}
	if got, err := sl.Slice(); err != nil || len(got) != 0 {
		t.Fatalf("Slice = %v, %v", got, err)
	}
	sl2 := must[*shared.ShareableList[int64]](t)(shared.OpenShareableList[int64](sl.Handle()))
	if sl2.Len() != 0 {
		t.Fatalf("opened Len = %d", sl2.Len())
	}
	ctx := ctxT(t, 30*time.Second)
	n, err := emptyListChild.Run(ctx, sl.Handle(), spawn.Share(m.Region()))
	if err != nil || n != 0 {
		t.Fatalf("child: Len %d, %v", n, err)
	}
}

var emptyListChild = spawn.Register("shared.emptyListChild", func(ctx context.Context, hd shared.Handle) (int, error) {
	sl, err := shared.OpenShareableList[int64](hd)
	if err != nil {
		return -1, err
	}
	if _, err := sl.Get(0); !errors.Is(err, shared.ErrIndex) {
		return -1, errors.New("Get(0) on an empty ShareableList: not ErrIndex")
	}
	return sl.Len(), nil
})

// TestUpdatePanicPropagates: a panic in Update's function is the caller's
// own: it reaches the caller unchanged (release's ErrCorrupt conversion
// covers only the unlock), the dict is unchanged and its lock released.
func TestUpdatePanicPropagates(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	d.Set("a", 1)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the function's panic", r)
			}
		}()
		d.Update("a", func(v int64, ok bool) (int64, bool) { panic("boom") })
	}()
	d.SetTimeout(time.Second)
	if err := d.Set("a", 2); err != nil {
		t.Fatalf("Set after a panicking Update: %v", err)
	}
	if v, _, _ := d.Get("a"); v != 2 {
		t.Fatalf("a = %d", v)
	}
}

// TestShapeScribbled: a Record's count other than 1 and a dict table whose
// capacity is not a power of two are ErrCorrupt (not ErrIndex, not probes
// that miss entries silently).
func TestShapeScribbled(t *testing.T) {
	m := newManager(t, 1<<20)
	rec := must[*shared.Record[int64]](t)(shared.NewRecord(m.Heap(), int64(5)))
	binary.LittleEndian.PutUint64(headerWord(t, m, rec.Handle(), countWordOff), 0)
	if _, err := rec.Load(); !errors.Is(err, shared.ErrCorrupt) {
		t.Fatalf("Load of a Record counting 0 items: %v, want ErrCorrupt", err)
	}
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	d.Set("a", 1)
	root := int64(binary.LittleEndian.Uint64(headerWord(t, m, d.Handle(), rootWordOff)))
	binary.LittleEndian.PutUint64(must[[]byte](t)(m.Heap().Bytes(root, 8)), 6)
	if _, _, err := d.Get("a"); !errors.Is(err, shared.ErrCorrupt) {
		t.Fatalf("Get in a table of 6 slots: %v, want ErrCorrupt", err)
	}
}

// TestListCountScribbled: a list count written over by another process
// (FuzzScribbleLive's first crasher) makes Slice fail with ErrCorrupt
// instead of panicking in make with a capacity taken from Len, and Len
// stays within what the heap could hold.
func TestListCountScribbled(t *testing.T) {
	m := newManager(t, 1<<20)
	l := must[*shared.List[string]](t)(shared.NewList[string](m.Heap()))
	l.Append("a", "b")
	binary.LittleEndian.PutUint64(headerWord(t, m, l.Handle(), countWordOff), 1<<62)
	if n := l.Len(); n > 1<<20 {
		t.Fatalf("Len = %d, more than the 1 MiB heap could hold", n)
	}
	if _, err := l.Slice(); !errors.Is(err, shared.ErrCorrupt) {
		t.Fatalf("Slice: %v, want ErrCorrupt", err)
	}
}

// TestLockWordNamingThisProcess: a lock word written over with this
// process's own identity while nobody holds the lock looks held by this
// process, which package sync cannot tell from a goroutine of its own
// holding it; a context (or SetTimeout) still ends the wait.
func TestLockWordNamingThisProcess(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	lw := headerWord(t, m, d.Handle(), lockWordOff)
	var me uint64
	d.Update("a", func(int64, bool) (int64, bool) { me = binary.LittleEndian.Uint64(lw); return 1, true })
	binary.LittleEndian.PutUint64(lw, me)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := within(t, 5*time.Second, "SetContext", func() error { return d.SetContext(ctx, "a", 2) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetContext on a lock word naming this process: %v, want DeadlineExceeded", err)
	}
	d.SetTimeout(50 * time.Millisecond)
	if err := within(t, 5*time.Second, "Set", func() error { return d.Set("a", 2) }); !errors.Is(err, shared.ErrTimeout) {
		t.Fatalf("Set with SetTimeout on a lock word naming this process: %v, want ErrTimeout", err)
	}
}
