package shared

import (
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

// Manager is the equivalent of Python's SharedMemoryManager (and of the
// memory side of Manager()): it owns a region and a heap in it, containers
// are made in its heap, and Close frees all of them at once.
//
//	m, _ := shared.NewManager(64 << 20)
//	defer m.Close()
//	d, _ := shared.NewDict[string, int64](m.Heap())
//
// Children started with spawn.Share(m.Region()) open the containers from
// their handles. Close releases the region in this process and unlinks a
// named one: like SharedMemoryManager.shutdown, processes that still have it
// mapped keep it until they close it, and an anonymous region's memory goes
// back to the kernel when the last of them does. There is no server process:
// nothing stops working because a manager process died.
type Manager struct {
	_ noCopy
	r *shm.Region
	h *shm.Heap
}

// managerOverhead is what the region and heap headers take besides size.
const managerOverhead = 64 << 10

// NewManager makes a manager with an anonymous region and a heap of about
// size bytes.
func NewManager(size int64) (*Manager, error) {
	r, err := shm.New(size + managerOverhead)
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	return newManager(r, size)
}

// NewNamedManager makes a manager whose region is /dev/shm/NAME. Besides
// children (spawn.Share), unrelated processes can then reach the
// containers: they shm.Open the name and OpenDict (OpenList, ...) a handle
// they were given. Close unlinks the name.
func NewNamedManager(name string, size int64) (*Manager, error) {
	r, err := shm.Create(name, size+managerOverhead)
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	return newManager(r, size)
}

func newManager(r *shm.Region, size int64) (*Manager, error) {
	h, err := shm.NewHeap(r, size+managerOverhead/2)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("new manager: %w", err)
	}
	return &Manager{r: r, h: h}, nil
}

// Heap returns the heap containers are made in.
func (m *Manager) Heap() *shm.Heap { return m.h }

// Region returns the manager's region, to share with children.
func (m *Manager) Region() *shm.Region { return m.r }

// Stats reports how full the manager's heap is.
func (m *Manager) Stats() (shm.HeapStats, error) { return m.h.Stats() }

// Close frees everything the manager made: the region is closed here (and
// unlinked if named), and every container made in it becomes unusable in
// this process (its operations fail with shm.ErrClosed). Closing twice
// returns an error wrapping shm.ErrClosed.
func (m *Manager) Close() error {
	if err := m.r.Close(); err != nil {
		return fmt.Errorf("close manager: %w", err)
	}
	return nil
}
