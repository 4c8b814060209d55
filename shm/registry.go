package shm

import (
	"fmt"
	"sync"
)

// attached maps region ids to the regions this process has mapped, so that a
// Handle, which names its region only by id, can be bound again. A process
// may map one region more than once; any open mapping serves.
var attached struct {
	sync.Mutex
	byID map[uint64][]*Region
}

func register(r *Region) {
	attached.Lock()
	defer attached.Unlock()
	if attached.byID == nil {
		attached.byID = make(map[uint64][]*Region)
	}
	attached.byID[r.id] = append(attached.byID[r.id], r)
}

func unregister(r *Region) {
	attached.Lock()
	defer attached.Unlock()
	list := attached.byID[r.id]
	for i, x := range list {
		if x == r {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(attached.byID, r.id)
	} else {
		attached.byID[r.id] = list
	}
}

// Lookup returns a region with the given id that this process has created
// or attached and not closed. A child started by spawn has attached every
// region its parent shared with it before its function runs.
func Lookup(id uint64) (*Region, error) {
	attached.Lock()
	defer attached.Unlock()
	if list := attached.byID[id]; len(list) > 0 {
		return list[0], nil
	}
	return nil, fmt.Errorf("look up region %016x: %w", id, ErrNotAttached)
}
