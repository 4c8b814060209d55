package shm

import (
	"errors"
	"testing"
)

// FuzzBind feeds Bind handles that may be forged, stale or hostile, against
// a region whose object headers may themselves be scribbled on. Bind must
// answer with an error or a block that lies inside the allocated area; it
// must never read outside the region.
func FuzzBind(f *testing.F) {
	f.Add(uint64(0), int64(headerSize+ObjectHeaderSize), int64(64), uint16(KindBytes), uint32(0), uint64(0), uint16(0), byte(0))
	f.Add(uint64(0), int64(1<<40), int64(8), uint16(KindArray), uint32(8), uint64(1), uint16(5), byte(0xff))
	f.Add(uint64(0), int64(-64), int64(-1), uint16(KindValue), uint32(8), uint64(0), uint16(40), byte(7))
	r, err := New(1 << 16)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	var blocks []Block
	for _, size := range []int64{64, 8, 1000} {
		b, err := r.Alloc(Layout{Kind: KindBytes, Size: size})
		if err != nil {
			f.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	pristine := append([]byte(nil), r.mem...)
	f.Fuzz(func(t *testing.T, regionXor uint64, off, size int64, kind uint16, elem uint32, typ uint64, scribbleAt uint16, scribble byte) {
		copy(r.mem, pristine)
		// Scribble on one byte of the first object header, as a buggy or
		// dying writer might.
		hdr := blocks[0].off - ObjectHeaderSize
		r.mem[hdr+int64(scribbleAt%ObjectHeaderSize)] ^= scribble
		h := Handle{Region: r.id ^ regionXor, Offset: off, Size: size, Kind: Kind(kind), Elem: elem, Type: typ}
		b, err := r.Bind(h, Kind(kind))
		if err != nil {
			for _, s := range []error{ErrHandle, ErrKind, ErrType} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Bind error %v wraps no sentinel", err)
		}
		next := int64(r.hdr.allocNext.Load())
		if b.off < headerSize+ObjectHeaderSize || b.off+b.size > next || b.size <= 0 {
			t.Fatalf("Bind accepted a block [%d, %d) outside the allocated [%d, %d)", b.off, b.off+b.size, headerSize, next)
		}
		_ = b.Bytes()[b.size-1]
	})
}
