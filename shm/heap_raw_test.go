package shm_test

import "testing"

// TestHeapAllocRaw: AllocRaw leaves a recycled block's bytes as its last
// user left them (the caller writes every byte it reads), a freshly carved
// block is zero all the same, and Alloc of the same block clears it.
func TestHeapAllocRaw(t *testing.T) {
	h := newHeap(t, 1<<20)
	for _, n := range []int64{1, 16, 100, 4096, 100000} {
		off, err := h.AllocRaw(n)
		if err != nil {
			t.Fatalf("AllocRaw(%d): %v", n, err)
		}
		c, err := h.Cap(off)
		if err != nil || c < n {
			t.Fatalf("Cap(AllocRaw(%d)) = %d, %v", n, c, err)
		}
		b, err := h.Bytes(off, c)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range b {
			if x != 0 {
				t.Fatalf("AllocRaw(%d), freshly carved: byte %d = %#x, want 0", n, i, x)
			}
		}
		for i := range b {
			b[i] = byte(i) | 1
		}
		if err := h.Free(off); err != nil {
			t.Fatal(err)
		}
		raw, err := h.AllocRaw(n)
		if err != nil || raw != off {
			t.Fatalf("AllocRaw(%d) after Free = %d, %v; want the freed block %d", n, raw, err, off)
		}
		b, _ = h.Bytes(raw, c)
		for i, x := range b {
			if x != byte(i)|1 {
				t.Fatalf("AllocRaw(%d) of a freed block: byte %d = %#x, want %#x as left", n, i, x, byte(i)|1)
			}
		}
		if err := h.Free(raw); err != nil {
			t.Fatal(err)
		}
		again, err := h.Alloc(n)
		if err != nil || again != off {
			t.Fatalf("Alloc(%d) after Free = %d, %v; want the freed block %d", n, again, err, off)
		}
		b, _ = h.Bytes(again, c)
		for i, x := range b {
			if x != 0 {
				t.Fatalf("Alloc(%d) of a block AllocRaw left dirty: byte %d = %#x, want 0", n, i, x)
			}
		}
	}
}
