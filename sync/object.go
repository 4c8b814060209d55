package sync

import (
	"fmt"
	"unsafe"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/internal/spin"
	"github.com/forkless-go/forkless/shm"
)

// Kinds of the objects of this package (shm reserves 0x0100-0x01ff for it).
const (
	KindMutex            shm.Kind = 0x0101
	KindRWMutex          shm.Kind = 0x0102
	KindRLock            shm.Kind = 0x0103
	KindSemaphore        shm.Kind = 0x0104
	KindBoundedSemaphore shm.Kind = 0x0105
	KindCond             shm.Kind = 0x0106
	KindEvent            shm.Kind = 0x0107
	KindBarrier          shm.Kind = 0x0108
	KindWaitGroup        shm.Kind = 0x0109
)

// noCopy lets go vet's copylocks check flag a copied primitive.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// obj is where a primitive lives, and this process's part in it.
type obj struct {
	b     shm.Block
	off   int64        // of the primitive inside b (0 for NewX, anything for XAt)
	alloc bool         // made by NewX or OpenX: it has a handle
	me    owner.Word   // this process, as the primitive's owner words name it
	spin  *spin.Budget // this process's spin length for the primitive
}

// layout is what every primitive's shared words implement: a check of
// what another process could have scribbled, true of every state the
// primitive can be in (all zero included, for XAt's first placement).
type layout interface{ validate() error }

// words is the constraint of the functions that place a primitive's shared
// words, T, and validate them through *T.
type words[T any] interface {
	*T
	layout
}

// live reports whether the region is still mapped. Every method checks it
// before it touches shared memory: after Close, the memory is gone.
func (o *obj) live() bool { return o.b.Live() }

func (o *obj) handle() shm.Handle {
	if !o.alloc {
		return shm.Handle{}
	}
	return o.b.Handle()
}

func (o *obj) mustLive(what string) {
	if !o.live() {
		panic("forkless/sync: " + what + " used after its region was closed")
	}
}

// lock returns the lock on the owner word at offset field of the
// primitive's words (a plain one: Robust() makes it follow the robust-lock
// model). The words were placed (bounds and alignment checked)
// before, so a failure is this process's own broken invariant.
func (o *obj) lock(field uintptr) owner.Lock {
	l, err := owner.LockAt(o.b.Bytes(), int(o.off)+int(field), o.me, o.spin)
	if err != nil {
		panic("forkless/sync: " + err.Error())
	}
	return l
}

// recordKey names the owner word at offset field of the primitive's words
// for owner.RecordFor: the same in every mapping of the region.
func (o *obj) recordKey(field uintptr) owner.RecordKey {
	return owner.RecordKey{Region: o.b.Handle().Region, Off: o.b.Offset() + o.off + int64(field)}
}

func closedErr(verb string) error { return fmt.Errorf("%s: %w", verb, errClosed) }

// sizeOf returns the bytes and the alignment T's words take.
func sizeOf[T any]() (size, align int64) {
	var zero T
	return int64(unsafe.Sizeof(zero)), int64(unsafe.Alignof(zero))
}

// place maps T over the object's bytes and checks them; verb prefixes its
// errors ("new mutex").
func place[T any, P words[T]](o obj, verb string) (obj, *T, error) {
	me, err := owner.Self()
	if err != nil {
		return obj{}, nil, fmt.Errorf("%s: %w", verb, err)
	}
	w, err := mapped.At[T](o.b.Bytes(), int(o.off))
	if err != nil {
		return obj{}, nil, fmt.Errorf("%s: %w", verb, err)
	}
	if err := P(w).validate(); err != nil {
		return obj{}, nil, fmt.Errorf("%s: %w", verb, err)
	}
	o.me, o.spin = me, new(spin.Budget)
	return o, w, nil
}

func allocObj[T any, P words[T]](r *shm.Region, kind shm.Kind, what string) (obj, *T, error) {
	size, _ := sizeOf[T]() // r nil: a region of its own (shm.Region.Alloc)
	b, err := r.Alloc(shm.Layout{Kind: kind, Size: size})
	if err != nil {
		return obj{}, nil, fmt.Errorf("new %s: %w", what, err)
	}
	return place[T, P](obj{b: b, alloc: true}, "new "+what)
}

func openObj[T any, P words[T]](h shm.Handle, kind shm.Kind, what string) (obj, *T, error) {
	b, err := shm.BindHandle(h, kind)
	if err != nil {
		return obj{}, nil, fmt.Errorf("open %s: %w", what, err)
	}
	if size, _ := sizeOf[T](); b.Len() < size {
		return obj{}, nil, fmt.Errorf("open %s: %d bytes, want %d: %w", what, b.Len(), size, shm.ErrHandle)
	}
	return place[T, P](obj{b: b, alloc: true}, "open "+what)
}

// atObj checks a placement inside another package's block.
func atObj[T any, P words[T]](b shm.Block, off int64, what string) (obj, *T, error) {
	if b.Bytes() == nil {
		return obj{}, nil, fmt.Errorf("%s at %d: %w", what, off, errClosed)
	}
	size, align := sizeOf[T]()
	if off < 0 || off%align != 0 || off > b.Len()-size {
		return obj{}, nil, fmt.Errorf("%s at %d: needs %d bytes aligned to %d inside a %d-byte block: %w",
			what, off, size, align, b.Len(), ErrInvalid)
	}
	return place[T, P](obj{b: b, off: off}, fmt.Sprintf("%s at %d", what, off))
}

// validOwner checks an owner word another process wrote.
func validOwner(what string, w uint64) error {
	if !owner.Word(w).Valid() {
		return fmt.Errorf("%s %#x is no process: %w", what, w, shm.ErrCorrupt)
	}
	return nil
}

// validID checks an identity (an owner word without its flag bits, or 0)
// another process wrote.
func validID(what string, w uint64) error {
	if id := owner.Word(w); !id.Valid() || id.Holder() != id {
		return fmt.Errorf("%s %#x is no process: %w", what, w, shm.ErrCorrupt)
	}
	return nil
}
