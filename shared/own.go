package shared

import (
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

// OwnHeapSize is the capacity of the heap a container made with a nil heap
// gets: an anonymous region of its own, whose pages cost memory only once
// touched. A container that may outgrow it wants a Manager (NewManager)
// sized for it.
const OwnHeapSize = 64 << 20

// heapOrOwn returns h, or a heap of its own (OwnHeapSize) when h is nil:
// NewDict(nil) is Python's Manager().dict() without the manager. The
// region lives until the process exits (or the heap's Region is closed);
// passing the container to a child shares it.
func heapOrOwn(h *shm.Heap, what string) (*shm.Heap, error) {
	if h != nil {
		return h, nil
	}
	h, err := shm.NewHeap(nil, OwnHeapSize)
	if err != nil {
		return nil, fmt.Errorf("%s: a heap of its own: %w", what, err)
	}
	return h, nil
}
