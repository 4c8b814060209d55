package shared

import (
	"bytes"
	"strings"
	"testing"

	"github.com/forkless-go/forkless/internal/mapped"
)

// TestLoadBytes checks the atomic word-wise reads of Dict.Get's lock-free
// path against plain slicing, at every alignment and length up to 40
// bytes, up to the heap's last byte, and refuses what leaves it.
func TestLoadBytes(t *testing.T) {
	var backing [8]uint64
	mem := mapped.Bytes(&backing)
	for i := range mem {
		mem[i] = byte(i*7 + 1)
	}
	v, err := newViews(mem)
	if err != nil {
		t.Fatal(err)
	}
	c := &container{mem: mem, views: v}
	for off := 0; off <= len(mem); off++ {
		for n := 0; n <= 40 && off+n <= len(mem); n++ {
			want := mem[off : off+n]
			got := make([]byte, n)
			if !c.loadBytes(got, int64(off)) || !bytes.Equal(got, want) {
				t.Fatalf("loadBytes(off %d, n %d) = %v, want %v", off, n, got, want)
			}
			if !c.equalBytes(int64(off), want) {
				t.Fatalf("equalBytes(off %d, n %d) = false", off, n)
			}
			for k := range n {
				other := bytes.Clone(want)
				other[k]++
				if c.equalBytes(int64(off), other) {
					t.Fatalf("equalBytes(off %d, n %d) ignores byte %d", off, n, k)
				}
			}
			var sb strings.Builder
			if !c.loadString(&sb, int64(off), int64(n)) || sb.String() != string(want) {
				t.Fatalf("loadString(off %d, n %d) = %q", off, n, sb.String())
			}
		}
	}
	if c.loadBytes(make([]byte, 2), int64(len(mem)-1)) || c.loadBytes(make([]byte, 1), -1) ||
		c.equalBytes(int64(len(mem)), []byte{0}) {
		t.Fatal("a read past the heap's end succeeded")
	}
	var sb strings.Builder
	if c.loadString(&sb, int64(len(mem)-200), 300) {
		t.Fatal("loadString past the heap's end succeeded")
	}
}

// TestGetCopies checks the lock-free Get for each way a value is stored:
// it returns the value, and allocates only what it hands back (nothing
// for a fixed-size value, the one string or slice otherwise).
func TestGetCopies(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's Get takes the lock")
	}
	m, err := NewManager(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ints, _ := NewDict[string, int64](m.Heap())
	strs, _ := NewDict[string, string](m.Heap())
	raw, _ := NewDict[string, []byte](m.Heap())
	gob, _ := NewDict[string, []int](m.Heap())
	for _, k := range []string{"", "k", "key-of-nine", strings.Repeat("long key ", 30)} {
		val := strings.Repeat("v", len(k)*3+1)
		if ints.Set(k, int64(len(k))) != nil || strs.Set(k, val) != nil || raw.Set(k, []byte(val)) != nil ||
			gob.Set(k, []int{len(k), 7}) != nil {
			t.Fatal("set failed")
		}
		if v, ok, err := ints.Get(k); !ok || err != nil || v != int64(len(k)) {
			t.Errorf("ints.Get(%q) = %d, %v, %v", k, v, ok, err)
		}
		if v, ok, err := strs.Get(k); !ok || err != nil || v != val {
			t.Errorf("strs.Get(%q) = %q, %v, %v", k, v, ok, err)
		}
		if v, ok, err := raw.Get(k); !ok || err != nil || string(v) != val {
			t.Errorf("raw.Get(%q) = %q, %v, %v", k, v, ok, err)
		}
		if v, ok, err := gob.Get(k); !ok || err != nil || len(v) != 2 || v[0] != len(k) {
			t.Errorf("gob.Get(%q) = %v, %v, %v", k, v, ok, err)
		}
		if n := testing.AllocsPerRun(100, func() { ints.Get(k) }); n != 0 {
			t.Errorf("Get of an int64 under %q: %v allocations", k, n)
		}
		if n := testing.AllocsPerRun(100, func() { strs.Get(k) }); n != 1 {
			t.Errorf("Get of a string under %q: %v allocations, want 1", k, n)
		}
	}
	if v, ok, err := ints.Get("absent"); ok || err != nil || v != 0 {
		t.Errorf("Get of an absent key = %d, %v, %v", v, ok, err)
	}
}
