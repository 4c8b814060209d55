package ring

import (
	"errors"
	"testing"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
)

// validHeader returns the bytes of a well-formed ring block of the given
// kind, for the fuzz seed corpus.
func validHeader(t testing.TB, mpmc bool, capacity int) []byte {
	info, err := layout.Of[uint64]()
	if err != nil {
		t.Fatal(err)
	}
	dataOff, extra, magic := uint64(spscData), uint64(0), uint32(spscMagic)
	if mpmc {
		dataOff, extra, magic = mpmcData, 8, mpmcMagic
	}
	g, size, err := slotGeometryFor(capacity, info, dataOff, extra)
	if err != nil {
		t.Fatal(err)
	}
	if mpmc {
		g.capacity = g.slots
	}
	mem := alignedBytes(int(size))
	mapped.Must[slotHeader](mem, 0).init(magic, g, info)
	return mem
}

func TestCheckSlotHeaderAcceptsValid(t *testing.T) {
	info, _ := layout.Of[uint64]()
	for _, c := range []int{1, 2, 3, 100, 1024} {
		if _, err := checkSlotHeader(validHeader(t, false, c), spscMagic, spscData, 0, info); err != nil {
			t.Errorf("spsc capacity %d: %v", c, err)
		}
		if _, err := checkSlotHeader(validHeader(t, true, c), mpmcMagic, mpmcData, 8, info); err != nil {
			t.Errorf("mpmc capacity %d: %v", c, err)
		}
	}
}

// FuzzCheckSlotHeader feeds corrupted ring blocks to the header check: it
// must never panic, must fail with ErrCorrupt or a type error, and when it
// accepts, every slot must lie inside the block.
func FuzzCheckSlotHeader(f *testing.F) {
	f.Add(validHeader(f, false, 5), false)
	f.Add(validHeader(f, true, 16), true)
	short := validHeader(f, false, 64)
	f.Add(short[:200], false)
	huge := validHeader(f, false, 4)
	mapped.Must[slotHeader](huge, 0).slots = 1 << 62
	f.Add(huge, false)
	over := validHeader(f, true, 8)
	mapped.Must[slotHeader](over, 0).stride = 0xffffffff
	f.Add(over, true)
	f.Add([]byte{}, true)
	info, _ := layout.Of[uint64]()
	f.Fuzz(func(t *testing.T, mem []byte, mpmc bool) {
		dataOff, extra, magic := uint64(spscData), uint64(0), uint32(spscMagic)
		if mpmc {
			dataOff, extra, magic = mpmcData, 8, mpmcMagic
		}
		// The magic is loaded atomically: give the bytes an aligned home.
		aligned := alignedBytes(len(mem))
		copy(aligned, mem)
		g, err := checkSlotHeader(aligned, magic, dataOff, extra, info)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !isTypeErr(err) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor a type error", err)
			}
			return
		}
		end, ok := g.size(dataOff)
		if !ok || end != uint64(len(aligned)) || g.capacity == 0 || g.capacity > g.slots || g.slots&(g.slots-1) != 0 {
			t.Fatalf("accepted geometry %+v for a %d-byte block", g, len(aligned))
		}
		if g.stride < 8 {
			t.Fatalf("accepted stride %d for 8-byte slots", g.stride)
		}
	})
}
