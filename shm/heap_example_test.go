package shm_test

import (
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

func ExampleHeap() {
	r, _ := shm.New(1 << 20)
	defer r.Close()
	h, _ := shm.NewHeap(r, 64<<10)
	off, _ := h.Alloc(100) // a heap offset: the same in every process
	b, _ := h.Bytes(off, 100)
	copy(b, "hello")
	n, _ := h.Cap(off)
	fmt.Println(string(b[:5]), n)
	h.Free(off)
	fmt.Println(errors.Is(h.Free(off), shm.ErrFree))
	st, _ := h.Stats()
	fmt.Println(st.InUse, st.Allocs, st.Frees)
	// Output:
	// hello 112
	// true
	// 0 1 1
}
