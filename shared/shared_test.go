package shared_test

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func TestMain(m *testing.M) {
	spawn.Main()
	os.Exit(m.Run())
}

func newManager(t testing.TB, size int64) *shared.Manager {
	t.Helper()
	m, err := shared.NewManager(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestDictBasics(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	if v, ok, err := d.Get("missing"); err != nil || ok || v != 0 {
		t.Fatalf("Get(missing) = %d, %v, %v", v, ok, err)
	}
	for i := range 1000 {
		if err := d.Set(fmt.Sprint("k", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if d.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", d.Len())
	}
	for i := range 1000 {
		if v, ok, err := d.Get(fmt.Sprint("k", i)); err != nil || !ok || v != int64(i) {
			t.Fatalf("Get(k%d) = %d, %v, %v", i, v, ok, err)
		}
	}
	for i := 0; i < 1000; i += 2 {
		if ok, err := d.Delete(fmt.Sprint("k", i)); err != nil || !ok {
			t.Fatalf("Delete(k%d) = %v, %v", i, ok, err)
		}
	}
	if ok, err := d.Delete("k0"); err != nil || ok {
		t.Fatalf("second Delete = %v, %v", ok, err)
	}
	if d.Len() != 500 {
		t.Fatalf("Len after deletes = %d", d.Len())
	}
	// Overwrite, CAS, Update, Pop.
	if err := d.Set("k1", 100); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.CompareAndSwap("k1", 99, 5); err != nil || ok {
		t.Fatalf("CAS with a wrong old value = %v, %v", ok, err)
	}
	if ok, err := d.CompareAndSwap("k1", 100, 5); err != nil || !ok {
		t.Fatalf("CAS = %v, %v", ok, err)
	}
	if v, keep, err := d.Update("k1", func(v int64, ok bool) (int64, bool) { return v * 10, ok }); err != nil || !keep || v != 50 {
		t.Fatalf("Update = %d, %v, %v", v, keep, err)
	}
	if v, keep, err := d.Update("new", func(v int64, ok bool) (int64, bool) { return 7, !ok }); err != nil || !keep || v != 7 {
		t.Fatalf("Update(new) = %d, %v, %v", v, keep, err)
	}
	if v, loaded, err := d.SetDefault("new", 99); err != nil || !loaded || v != 7 {
		t.Fatalf("SetDefault on a present key = %d, %v, %v", v, loaded, err)
	}
	if v, loaded, err := d.SetDefault("fresh", 99); err != nil || loaded || v != 99 {
		t.Fatalf("SetDefault on a missing key = %d, %v, %v", v, loaded, err)
	}
	d.Delete("fresh")
	if v, ok, err := d.Pop("new"); err != nil || !ok || v != 7 {
		t.Fatalf("Pop = %d, %v, %v", v, ok, err)
	}
	if _, ok, _ := d.Get("new"); ok {
		t.Fatal("popped key still there")
	}
	// Range sees a snapshot.
	n := 0
	if err := d.Range(func(k string, v int64) bool {
		if k != "k1" && k != fmt.Sprint("k", v) {
			t.Errorf("Range: %s = %d", k, v)
		}
		d.Set(k+"-added-during-range", 0) // allowed: fn runs unlocked
		n++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != 500 || d.Len() != 1000 {
		t.Fatalf("Range saw %d entries, Len now %d", n, d.Len())
	}
	if err := d.Clear(); err != nil || d.Len() != 0 {
		t.Fatalf("Clear = %v, Len %d", err, d.Len())
	}
	if _, ok, _ := d.Get("k1"); ok {
		t.Fatal("cleared key still there")
	}
	if err := d.Set("after", 1); err != nil {
		t.Fatal(err)
	}
	st, _ := m.Stats()
	if st.InUse > 4096 {
		t.Fatalf("after Clear and one Set, %d bytes in use: leak", st.InUse)
	}
}

type point struct{ X, Y float64 }

type doc struct {
	Title string
	Tags  []string
	Attrs map[string]int
}

func TestDictValueTypes(t *testing.T) {
	m := newManager(t, 1<<20)
	dp := must[*shared.Dict[string, point]](t)(shared.NewDict[string, point](m.Heap()))
	dp.Set("a", point{1, 2})
	if v, _, _ := dp.Get("a"); v != (point{1, 2}) {
		t.Fatalf("point = %v", v)
	}
	db := must[*shared.Dict[[]byte, []byte]](t)(shared.NewDict[[]byte, []byte](m.Heap()))
	key := []byte("key")
	db.Set(key, []byte("value"))
	key[0] = 'X' // the dict holds its own copy
	if v, ok, _ := db.Get([]byte("key")); !ok || string(v) != "value" {
		t.Fatalf("bytes = %q, %v", v, ok)
	}
	if err := db.Set([]byte{}, nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := db.Get(nil); !ok || len(v) != 0 {
		t.Fatalf("empty key = %q, %v", v, ok)
	}
	ds := must[*shared.Dict[string, string]](t)(shared.NewDict[string, string](m.Heap()))
	ds.Set("greeting", strings.Repeat("hello ", 1000))
	if v, _, _ := ds.Get("greeting"); v != strings.Repeat("hello ", 1000) {
		t.Fatalf("string of %d bytes", len(v))
	}
	for _, c := range []shared.Codec{shared.Gob, shared.JSON} {
		dd := must[*shared.Dict[string, doc]](t)(shared.NewDict[string, doc](m.Heap(), shared.WithCodec(c)))
		want := doc{"t", []string{"x", "y"}, map[string]int{"a": 1}}
		if err := dd.Set("d", want); err != nil {
			t.Fatal(err)
		}
		got, _, err := dd.Get("d")
		if err != nil || got.Title != "t" || len(got.Tags) != 2 || got.Attrs["a"] != 1 {
			t.Fatalf("doc = %+v, %v", got, err)
		}
	}
	dz := must[*shared.Dict[string, struct{}]](t)(shared.NewDict[string, struct{}](m.Heap()))
	if err := dz.Set("set member", struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := dz.Get("set member"); !ok || err != nil {
		t.Fatalf("struct{} value: %v, %v", ok, err)
	}
}

func TestHandlesRefuseWrongTypes(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	d.Set("x", 1)
	h := d.Handle()
	d2 := must[*shared.Dict[string, int64]](t)(shared.OpenDict[string, int64](h))
	if v, _, _ := d2.Get("x"); v != 1 {
		t.Fatalf("reopened dict: x = %d", v)
	}
	if _, err := shared.OpenDict[string, float64](h); !errors.Is(err, shared.ErrHandle) {
		t.Fatalf("OpenDict with another value type = %v", err)
	}
	if _, err := shared.OpenDict[[]byte, int64](h); !errors.Is(err, shared.ErrHandle) {
		t.Fatalf("OpenDict with another key type = %v", err)
	}
	if _, err := shared.OpenList[int64](h); !errors.Is(err, shared.ErrHandle) {
		t.Fatalf("OpenList of a dict handle = %v", err)
	}
	bad := h
	bad.Offset += 16
	if _, err := shared.OpenDict[string, int64](bad); !errors.Is(err, shared.ErrHandle) {
		t.Fatalf("OpenDict at a wrong offset = %v", err)
	}
	bad = h
	bad.Offset = 1 << 40
	if _, err := shared.OpenDict[string, int64](bad); !errors.Is(err, shared.ErrHandle) {
		t.Fatalf("OpenDict far outside = %v", err)
	}
}

func TestListBasics(t *testing.T) {
	m := newManager(t, 1<<20)
	l := must[*shared.List[string]](t)(shared.NewList[string](m.Heap()))
	if _, err := l.Pop(); !errors.Is(err, shared.ErrEmpty) {
		t.Fatalf("Pop on empty = %v", err)
	}
	for i := range 100 {
		if err := l.Append(fmt.Sprint("item", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append("a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	if l.Len() != 103 {
		t.Fatalf("Len = %d", l.Len())
	}
	if v, err := l.Get(-1); err != nil || v != "c" {
		t.Fatalf("Get(-1) = %q, %v", v, err)
	}
	if v, err := l.Get(42); err != nil || v != "item42" {
		t.Fatalf("Get(42) = %q, %v", v, err)
	}
	for _, i := range []int{103, -104} {
		if _, err := l.Get(i); !errors.Is(err, shared.ErrIndex) {
			t.Fatalf("Get(%d) = %v", i, err)
		}
	}
	if err := l.Set(0, strings.Repeat("long ", 100)); err != nil {
		t.Fatal(err)
	}
	if v, err := l.Update(1, func(s string) string { return s + "!" }); err != nil || v != "item1!" {
		t.Fatalf("Update = %q, %v", v, err)
	}
	if v, err := l.Pop(); err != nil || v != "c" || l.Len() != 102 {
		t.Fatalf("Pop = %q, %v, Len %d", v, err, l.Len())
	}
	all, err := l.Slice()
	if err != nil || len(all) != 102 || all[1] != "item1!" || all[101] != "b" {
		t.Fatalf("Slice = %d items, %v", len(all), err)
	}
	if err := l.Clear(); err != nil || l.Len() != 0 {
		t.Fatalf("Clear = %v, Len %d", err, l.Len())
	}
	l.Append("again")
	if v, _ := l.Get(0); v != "again" {
		t.Fatalf("after Clear, Get(0) = %q", v)
	}
}

func TestShareableListAndRecord(t *testing.T) {
	m := newManager(t, 1<<20)
	sl := must[*shared.ShareableList[int64]](t)(shared.NewShareableList(m.Heap(), []int64{1, 2, 3}))
	sl.Set(1, 20)
	if got, _ := sl.Slice(); fmt.Sprint(got) != "[1 20 3]" {
		t.Fatalf("ShareableList = %v", got)
	}
	sl2 := must[*shared.ShareableList[int64]](t)(shared.OpenShareableList[int64](sl.Handle()))
	if v, _ := sl2.Get(-1); v != 3 || sl2.Len() != 3 {
		t.Fatalf("reopened: Get(-1) = %d, Len %d", v, sl2.Len())
	}
	if _, err := shared.OpenList[int64](sl.Handle()); !errors.Is(err, shared.ErrHandle) {
		t.Fatalf("OpenList of a ShareableList = %v", err)
	}

	type progress struct {
		Done  int
		Stage string
	}
	rec := must[*shared.Record[progress]](t)(shared.NewRecord(m.Heap(), progress{Stage: "start"}))
	for range 10 {
		rec.Update(func(p progress) progress { p.Done++; p.Stage = "running"; return p })
	}
	if p, err := rec.Load(); err != nil || p.Done != 10 || p.Stage != "running" {
		t.Fatalf("record = %+v, %v", p, err)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	m := newManager(t, 4<<20)
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	l := must[*shared.List[int64]](t)(shared.NewList[int64](m.Heap()))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint(g, "/", i%100)
				d.Set(k, int64(i))
				if v, ok, err := d.Get(k); err != nil || !ok || v != int64(i) {
					t.Errorf("Get(%s) right after Set(%d) = %d, %v, %v", k, i, v, ok, err)
					return
				}
				d.Update("counter", func(v int64, _ bool) (int64, bool) { return v + 1, true })
				l.Append(int64(g*10000 + i))
				if i%3 == 0 {
					d.Delete(fmt.Sprint(g, "/", (i+50)%100))
				}
			}
		})
	}
	wg.Wait()
	if v, _, _ := d.Get("counter"); v != 8000 {
		t.Fatalf("counter = %d, want 8000", v)
	}
	items, _ := l.Slice()
	sort.Slice(items, func(i, j int) bool { return items[i] < items[j] })
	if len(items) != 8000 {
		t.Fatalf("%d items appended, want 8000", len(items))
	}
	for i, v := range items {
		if want := int64(i/2000*10000 + i%2000); v != want {
			t.Fatalf("item %d = %d, want %d", i, v, want)
		}
	}
}

func TestFullHeapGivesClearErrorAndKeepsWorking(t *testing.T) {
	m := newManager(t, 256<<10)
	d := must[*shared.Dict[string, []byte]](t)(shared.NewDict[string, []byte](m.Heap()))
	val := make([]byte, 200)
	n := 0
	var err error
	for ; ; n++ {
		if err = d.Set(fmt.Sprint("key", n), val); err != nil {
			break
		}
	}
	if !errors.Is(err, shm.ErrNoSpace) || !strings.Contains(err.Error(), "dict set") {
		t.Fatalf("Set on a full heap = %v, want shm.ErrNoSpace", err)
	}
	t.Logf("full after %d entries: %v", n, err)
	if d.Len() != n {
		t.Fatalf("Len = %d after %d successful sets", d.Len(), n)
	}
	for i := range n {
		if v, ok, err := d.Get(fmt.Sprint("key", i)); err != nil || !ok || len(v) != 200 {
			t.Fatalf("Get(key%d) on a full heap = %d bytes, %v, %v", i, len(v), ok, err)
		}
	}
	if _, ok, _ := d.Get(fmt.Sprint("key", n)); ok {
		t.Fatal("the refused entry is there")
	}
	for i := 0; i < n; i += 2 {
		d.Delete(fmt.Sprint("key", i))
	}
	for i := 0; i < n; i += 2 {
		if err := d.Set(fmt.Sprint("again", i), val); err != nil {
			t.Fatalf("Set after deletes: %v", err)
		}
	}
	if d.Len() != n {
		t.Fatalf("Len = %d", d.Len())
	}
}

func TestFullHeapListKeepsWorking(t *testing.T) {
	m := newManager(t, 256<<10)
	l := must[*shared.List[[]byte]](t)(shared.NewList[[]byte](m.Heap()))
	val := make([]byte, 500)
	var err error
	n := 0
	for ; ; n++ {
		val[0] = byte(n)
		if err = l.Append(val); err != nil {
			break
		}
	}
	if !errors.Is(err, shm.ErrNoSpace) || l.Len() != n {
		t.Fatalf("Append on a full heap = %v (Len %d after %d appends)", err, l.Len(), n)
	}
	if err := l.Append(val, val); !errors.Is(err, shm.ErrNoSpace) || l.Len() != n {
		t.Fatalf("Append of two on a full heap = %v, Len %d: must add none or both", err, l.Len())
	}
	if v, err := l.Get(-1); err != nil || v[0] != byte(n-1) {
		t.Fatalf("Get(-1) on a full heap = %v, %v", v[:1], err)
	}
	for range 10 {
		if _, err := l.Pop(); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if err := l.Append(val); err != nil {
			t.Fatalf("Append after Pop: %v", err)
		}
	}
}

func TestManagerCloseFreesEverything(t *testing.T) {
	m, err := shared.NewManager(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	d := must[*shared.Dict[string, int64]](t)(shared.NewDict[string, int64](m.Heap()))
	d.Set("x", 1)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Set("y", 2); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Set after the manager closed = %v, want shm.ErrClosed", err)
	}
	if _, _, err := d.Get("x"); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Get after the manager closed = %v, want shm.ErrClosed", err)
	}
	if n := d.Len(); n != 0 {
		t.Fatalf("Len after close = %d", n)
	}
	if err := d.Range(func(string, int64) bool { return true }); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Range after close = %v", err)
	}
	_ = d.Handle()
	if err := m.Close(); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}
