package shm_test

import (
	"encoding/binary"
	"testing"

	"github.com/forkless-go/forkless/shm"
)

// FuzzHeapScribbled lets a stray writer scribble anywhere in a heap's
// block (header, free-list heads, block headers, payloads), then allocates
// and frees: every call must return (an error or a block inside the heap),
// never panic or fault.
func FuzzHeapScribbled(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{64, 0, 0, 0, 0xff}) // the bump word
	f.Add([]byte{200, 0, 0, 0, 0x7f, 8, 4, 0, 0, 1})
	for i := range 32 {
		b := make([]byte, 0, 60)
		for j := range 12 {
			b = binary.LittleEndian.AppendUint32(b, uint32(i*131+j*977))
			b = append(b, byte(i+j*7))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := shm.New(64 << 10)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		h, err := shm.NewHeap(r, 32<<10)
		if err != nil {
			t.Fatal(err)
		}
		var offs []int64
		for i := range 40 {
			if off, err := h.Alloc(int64(16 + i*13)); err == nil {
				offs = append(offs, off)
			}
		}
		for _, off := range offs[:20] {
			h.Free(off)
		}
		// Scribble through a raw view of the whole heap block.
		blk := h.Block().Bytes()
		for len(data) >= 5 {
			blk[int(binary.LittleEndian.Uint32(data))%len(blk)] = data[4]
			data = data[5:]
		}
		for i := range 60 {
			off, err := h.Alloc(int64(1 + i*29))
			if err != nil {
				continue
			}
			if b, err := h.Bytes(off, 1); err == nil {
				b[0] = 1
			}
			if i%2 == 0 {
				h.Free(off)
			}
		}
		for _, off := range offs {
			h.Free(off)
			h.Cap(off)
		}
		h.Stats()
	})
}
