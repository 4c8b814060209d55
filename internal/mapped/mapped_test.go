package mapped

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/forkless-go/forkless/internal/errs"
)

func TestAtChecksBoundsAndAlignment(t *testing.T) {
	b := make([]byte, 64)
	b = b[:64:64]
	for _, off := range []int{-8, 57, 64, 1 << 40, 3} {
		if _, err := At[atomic.Uint64](b, off); !errors.Is(err, errs.ErrCorrupt) {
			t.Errorf("offset %d: err %v, want ErrCorrupt", off, err)
		}
	}
	w, err := At[atomic.Uint64](b, 56)
	if err != nil {
		t.Fatal(err)
	}
	w.Store(0x0102030405060708)
	if b[56] != 8 && b[63] != 8 {
		t.Fatalf("word not at offset 56: % x", b[56:])
	}
}

func TestSliceBounds(t *testing.T) {
	b := make([]byte, 64)
	for _, c := range []struct{ off, n int }{{0, 9}, {8, 8}, {-8, 1}, {0, -1}, {0, 1 << 60}} {
		if _, err := Slice[uint64](b, c.off, c.n); !errors.Is(err, errs.ErrCorrupt) {
			t.Errorf("Slice(%d,%d): err %v, want ErrCorrupt", c.off, c.n, err)
		}
	}
	s, err := Slice[uint64](b, 8, 7)
	if err != nil || len(s) != 7 {
		t.Fatalf("Slice(8,7) = %d, %v", len(s), err)
	}
}

func TestMustPanicsWithPrefix(t *testing.T) {
	defer func() {
		if r, _ := recover().(string); len(r) < 26 || r[:26] != "forkless/internal/mapped: " {
			t.Fatalf("panic %q", r)
		}
	}()
	Must[uint64](make([]byte, 4), 0)
}

func FuzzAt(f *testing.F) {
	f.Add(0, 64)
	f.Fuzz(func(t *testing.T, off, size int) {
		if size < 0 || size > 1<<16 {
			return
		}
		b := make([]byte, size)
		if w, err := At[atomic.Uint32](b, off); err == nil {
			w.Add(1) // must not fault
		}
	})
}
