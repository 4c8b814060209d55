package ring

import (
	"fmt"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
)

// Object kinds of the fixed-slot rings (the slot rings own 0x0200-0x020f).
const (
	KindSPSC shm.Kind = 0x0200 // an SPSC[T]
	KindMPMC shm.Kind = 0x0201 // an MPMC[T]
)

// MaxSlotCapacity bounds the capacity of a fixed-slot ring (2^32 items);
// larger requests fail with ErrCapacity.
const MaxSlotCapacity = 1 << 32

// checkSlotHeader validates the ring header at the start of mem (the whole
// block) against what the opener expects, and returns the geometry. It
// never reads mem outside its length (see slotHeader.Validate).
func checkSlotHeader(mem []byte, magic uint32, dataOff, extra uint64, info layout.Info) (slotGeom, error) {
	if uint64(len(mem)) < dataOff {
		return slotGeom{}, fmt.Errorf("%d-byte block is smaller than a ring header: %w", len(mem), ErrCorrupt)
	}
	h, err := mapped.At[slotHeader](mem, 0)
	if err != nil {
		return slotGeom{}, fmt.Errorf("ring header: %w (%w)", ErrCorrupt, err)
	}
	return h.Validate(magic, len(mem), dataOff, extra, info)
}

// openSlotBlock binds h as a ring of the given kind holding T, checking the
// handle against T first, then the header.
func openSlotBlock(h shm.Handle, kind shm.Kind, magic uint32, dataOff, extra uint64, info layout.Info) (shm.Block, slotGeom, error) {
	if h.Kind != kind {
		return shm.Block{}, slotGeom{}, fmt.Errorf("handle names a %v: %w", h.Kind, shm.ErrKind)
	}
	if h.Type != info.ID || uint64(h.Elem) != uint64(info.Size) {
		return shm.Block{}, slotGeom{}, fmt.Errorf("handle names a ring of another element type than %v: %w", info.Type, shm.ErrType)
	}
	b, err := shm.BindHandle(h, kind)
	if err != nil {
		return shm.Block{}, slotGeom{}, err
	}
	mem := b.Bytes()
	if mem == nil {
		return shm.Block{}, slotGeom{}, fmt.Errorf("region closed: %w", shm.ErrClosed)
	}
	g, err := checkSlotHeader(mem, magic, dataOff, extra, info)
	if err != nil {
		return shm.Block{}, slotGeom{}, err
	}
	return b, g, nil
}

// slotPad keeps process-local hot fields of a ring value on separate cache
// lines.
type slotPad [64]byte

// slotNoCopy lets go vet flag a copied ring value.
type slotNoCopy struct{}

func (*slotNoCopy) Lock()   {}
func (*slotNoCopy) Unlock() {}
