package shm_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func TestMain(m *testing.M) {
	spawn.Main()
	os.Exit(m.Run())
}

func newRegion(t testing.TB, size int64) *shm.Region {
	t.Helper()
	r, err := shm.New(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func uniqueName(t testing.TB) string {
	name := fmt.Sprintf("forkless-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { shm.Unlink(name) })
	return name
}

func TestAllocAlignedAndZero(t *testing.T) {
	r := newRegion(t, 1<<16)
	var prevEnd int64
	for _, size := range []int64{1, 63, 64, 65, 1000} {
		b, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		if b.Offset()%shm.Align != 0 {
			t.Fatalf("block of %d bytes at offset %d, not %d-aligned", size, b.Offset(), shm.Align)
		}
		if b.Offset() < prevEnd+shm.ObjectHeaderSize {
			t.Fatalf("block at %d overlaps the previous one ending at %d", b.Offset(), prevEnd)
		}
		prevEnd = b.Offset() + b.Len()
		for i, c := range b.Bytes() {
			if c != 0 {
				t.Fatalf("new block byte %d = %d", i, c)
			}
		}
	}
}

func TestAllocFullLeavesDataIntact(t *testing.T) {
	r := newRegion(t, 4096)
	a, err := shm.NewArray[byte](r, 4096)
	if err != nil {
		t.Fatalf("a region of capacity N must hold one N-byte object: %v", err)
	}
	for i := range a.Slice() {
		a.Slice()[i] = byte(i)
	}
	_, err = r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 1 << 20})
	if !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("Alloc past capacity = %v, want ErrNoSpace", err)
	}
	for i, c := range a.Slice() {
		if c != byte(i) {
			t.Fatalf("byte %d changed after a failed Alloc", i)
		}
	}
	st, err := r.Stats()
	if err != nil || st.Objects != 1 || st.Used > st.Size {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}

func TestConcurrentAllocNoOverlap(t *testing.T) {
	r := newRegion(t, 8<<20)
	const goroutines, each = 8, 500
	var mu sync.Mutex
	var blocks []shm.Block
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				b, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: int64(1 + (g*31+i*7)%300)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				blocks = append(blocks, b)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkDisjoint(t, blocks)
}

func checkDisjoint(t *testing.T, blocks []shm.Block) {
	t.Helper()
	seen := map[int64]bool{}
	type span struct{ lo, hi int64 }
	var spans []span
	for _, b := range blocks {
		if seen[b.Offset()] {
			t.Fatalf("offset %d handed out twice", b.Offset())
		}
		seen[b.Offset()] = true
		spans = append(spans, span{b.Offset() - shm.ObjectHeaderSize, b.Offset() + b.Len()})
	}
	for i := range spans {
		for j := i + 1; j < len(spans); j++ {
			if spans[i].lo < spans[j].hi && spans[j].lo < spans[i].hi {
				t.Fatalf("blocks %v and %v overlap", spans[i], spans[j])
			}
		}
	}
}

type record struct {
	ID    uint32
	Score float64
	Tags  [4]uint16
}

type withString struct {
	ID   int
	Meta struct {
		Count int
		Name  string
	}
}

func TestValueAndArrayRefuseUnsafeTypes(t *testing.T) {
	r := newRegion(t, 1<<16)
	_, err := shm.NewValue[withString](r)
	if err == nil || !strings.Contains(err.Error(), "field Meta.Name is a string") {
		t.Fatalf("NewValue[withString] = %v, want an error naming Meta.Name", err)
	}
	for _, err := range []error{
		func() error { _, err := shm.NewArray[*int](r, 3); return err }(),
		func() error { _, err := shm.NewArray[[]byte](r, 3); return err }(),
		func() error { _, err := shm.NewValue[map[int]int](r); return err }(),
		func() error { _, err := shm.NewValue[any](r); return err }(),
		func() error { _, err := shm.NewValue[chan int](r); return err }(),
	} {
		if err == nil {
			t.Fatal("a pointer-holding type was accepted")
		}
	}
	if st, _ := r.Stats(); st.Objects != 0 {
		t.Fatalf("refused types allocated %d objects", st.Objects)
	}
}

func TestValueRoundTrip(t *testing.T) {
	r := newRegion(t, 1<<16)
	v, err := shm.NewValue[record](r)
	if err != nil {
		t.Fatal(err)
	}
	want := record{ID: 7, Score: 2.5, Tags: [4]uint16{1, 2, 3, 4}}
	if err := v.Store(want); err != nil {
		t.Fatal(err)
	}
	again, err := shm.OpenValue[record](v.Handle())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := again.Load(); got != want {
		t.Fatalf("Load through a second binding = %+v, want %+v", got, want)
	}
	again.Ptr().Score = 9
	if got, _ := v.Load(); got.Score != 9 {
		t.Fatal("the two bindings do not share memory")
	}
}

func TestArrayBounds(t *testing.T) {
	r := newRegion(t, 1<<16)
	a, err := shm.NewArray[int32](r, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Set(9, 5); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{-11, 10, 1 << 40, -1 << 40} {
		if err := a.Set(i, 1); !errors.Is(err, shm.ErrRange) {
			t.Errorf("Set(%d) = %v, want ErrRange", i, err)
		}
		if _, err := a.Get(i); !errors.Is(err, shm.ErrRange) {
			t.Errorf("Get(%d) = %v, want ErrRange", i, err)
		}
	}
	if v, _ := a.Get(9); v != 5 {
		t.Fatalf("element 9 = %d after refused writes, want 5", v)
	}
	// Python's negative indexes: -1 is the last element, -10 the first.
	if v, err := a.Get(-1); err != nil || v != 5 {
		t.Fatalf("Get(-1) = %d, %v; want 5", v, err)
	}
	if err := a.Set(-10, 7); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.Get(0); v != 7 {
		t.Fatalf("element 0 = %d after Set(-10, 7), want 7", v)
	}
	for _, n := range []int{0, -3} {
		if _, err := shm.NewArray[int32](r, n); !errors.Is(err, shm.ErrSize) {
			t.Errorf("NewArray(%d) = %v, want ErrSize", n, err)
		}
	}
}

func TestHandleChecks(t *testing.T) {
	r := newRegion(t, 1<<16)
	a, _ := shm.NewArray[int64](r, 8)
	v, _ := shm.NewValue[int64](r)

	if _, err := shm.OpenArray[float64](a.Handle()); !errors.Is(err, shm.ErrType) {
		t.Errorf("OpenArray[float64] of an int64 array = %v, want ErrType", err)
	}
	if _, err := shm.OpenArray[int64](v.Handle()); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenArray of a Value's handle = %v, want ErrKind", err)
	}
	forged := a.Handle()
	forged.Offset += shm.Align
	if _, err := shm.OpenArray[int64](forged); !errors.Is(err, shm.ErrHandle) {
		t.Errorf("OpenArray at a shifted offset = %v, want ErrHandle", err)
	}
	forged = a.Handle()
	forged.Offset = r.Size() * 4
	if _, err := shm.OpenArray[int64](forged); !errors.Is(err, shm.ErrHandle) {
		t.Errorf("OpenArray past the region = %v, want ErrHandle", err)
	}
	forged = a.Handle()
	forged.Region++
	if _, err := shm.OpenArray[int64](forged); !errors.Is(err, shm.ErrNotAttached) {
		t.Errorf("OpenArray in an unknown region = %v, want ErrNotAttached", err)
	}

	text := a.Handle().String()
	parsed, err := shm.ParseHandle(text)
	if err != nil || parsed != a.Handle() {
		t.Fatalf("ParseHandle(%q) = %+v, %v", text, parsed, err)
	}
	bin, _ := a.Handle().MarshalBinary()
	var back shm.Handle
	if err := back.UnmarshalBinary(bin); err != nil || back != a.Handle() || len(bin) != shm.HandleSize {
		t.Fatalf("binary round trip = %+v, %v", back, err)
	}
	for _, bad := range []string{"", "forkless:2:0:0:0:0:0:0", "forkless:1:zz:3:4160:64:8:0", "nonsense"} {
		if _, err := shm.ParseHandle(bad); !errors.Is(err, shm.ErrHandle) {
			t.Errorf("ParseHandle(%q) = %v, want ErrHandle", bad, err)
		}
	}
}

func TestUseAfterClose(t *testing.T) {
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := shm.NewArray[int64](r, 4)
	v, _ := shm.NewValue[int64](r)
	h := a.Handle()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Close":   r.Close(),
		"Alloc":   func() error { _, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 8}); return err }(),
		"Get":     func() error { _, err := a.Get(0); return err }(),
		"Set":     a.Set(0, 1),
		"Load":    func() error { _, err := v.Load(); return err }(),
		"Store":   v.Store(1),
		"Stats":   func() error { _, err := r.Stats(); return err }(),
		"Bind":    func() error { _, err := r.Bind(h, shm.KindArray); return err }(),
		"ArrayAt": func() error { _, err := shm.ArrayAt[int64](r, shm.DataOffset, 1); return err }(),
	}
	for op, err := range checks {
		if !errors.Is(err, shm.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
	if a.Slice() != nil {
		t.Error("Slice after Close is not nil")
	}
	if _, err := shm.OpenArray[int64](h); !errors.Is(err, shm.ErrNotAttached) {
		t.Errorf("OpenArray after Close = %v, want ErrNotAttached", err)
	}
}

func TestNamedRegionLifecycle(t *testing.T) {
	name := uniqueName(t)
	r, err := shm.Create(name, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := shm.NewValue[uint64](r)
	v.Store(0xfeed)
	other, err := shm.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if other.ID() != r.ID() || other.Name() != name {
		t.Fatalf("Open gave id %x name %q, want %x %q", other.ID(), other.Name(), r.ID(), name)
	}
	got, err := other.Bind(v.Handle(), shm.KindValue)
	if err != nil {
		t.Fatal(err)
	}
	if x := got.Uint64(0).Load(); x != 0xfeed {
		t.Fatalf("second mapping reads %#x", x)
	}
	if err := r.Close(); err != nil { // the owner's Close unlinks the name
		t.Fatal(err)
	}
	if _, err := shm.Open(name); err == nil {
		t.Fatal("name still present after its owner closed")
	}
	if x := got.Uint64(0).Load(); x != 0xfeed { // but mappings live on
		t.Fatalf("mapping after unlink reads %#x", x)
	}
	other.Close()
}

func TestKeepName(t *testing.T) {
	name := uniqueName(t)
	r, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	r.KeepName()
	r.Close()
	again, err := shm.Open(name)
	if err != nil {
		t.Fatalf("KeepName did not keep the name: %v", err)
	}
	if err := again.Unlink(); err != nil {
		t.Fatal(err)
	}
	again.Close()
}

func TestArrayAtBounds(t *testing.T) {
	r := newRegion(t, 4096)
	if _, err := shm.ArrayAt[uint64](r, 0, 1); !errors.Is(err, shm.ErrRange) {
		t.Errorf("ArrayAt over the header = %v, want ErrRange", err)
	}
	if _, err := shm.ArrayAt[uint64](r, shm.DataOffset+4, 1); !errors.Is(err, shm.ErrRange) {
		t.Errorf("misaligned ArrayAt = %v, want ErrRange", err)
	}
	if _, err := shm.ArrayAt[uint64](r, shm.DataOffset, int(r.Size())); !errors.Is(err, shm.ErrRange) {
		t.Errorf("ArrayAt past the end = %v, want ErrRange", err)
	}
}
