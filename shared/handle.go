package shared

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
)

// Kinds of the containers' header blocks, in the containers' range.
const (
	KindDict          shm.Kind = 0x0400
	KindList          shm.Kind = 0x0401
	KindShareableList shm.Kind = 0x0402
	KindRecord        shm.Kind = 0x0403
)

// Handle names a container for another process: the heap it lives in and
// the offset of its header there, with its kind and the fingerprints of its
// key and value types. It is fixed-size and pointer-free, so it may be (a
// field of) a spawn argument or be stored in shared memory. Opening checks
// all of it against the header it names.
type Handle struct {
	Heap   shm.Handle // the heap the container lives in
	Offset int64      // heap offset of the containerHeader
	Kind   shm.Kind   // KindDict, KindList, KindShareableList or KindRecord
	_      [6]byte
	Key    uint64 // fingerprint of the key type (0 for lists)
	Value  uint64 // fingerprint of the value type
}

// A Handle travels as its raw bytes (a spawn argument, a field of a struct
// in shared memory), so its layout is fixed: each line fails to compile
// unless the field sits at its offset.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Heap)-0]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Offset)-shm.HandleSize]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Kind)-48]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Key)-56]
	_ = [1]struct{}{}[unsafe.Offsetof(Handle{}.Value)-64]
	_ = [1]struct{}{}[unsafe.Sizeof(Handle{})-72]
)

func kindName(k shm.Kind) string {
	switch k {
	case KindDict:
		return "dict"
	case KindList:
		return "list"
	case KindShareableList:
		return "shareable list"
	case KindRecord:
		return "record"
	}
	return k.String()
}

// String returns the text form of a handle, for a process that is not a
// child (it opened a named manager's region with shm.Open) to receive on a
// command line or through a file:
//
//	shared:1:KIND:OFFSET:KEY:VALUE:HEAP
//
// KIND and OFFSET in decimal, the KEY and VALUE fingerprints in
// hexadecimal, HEAP the heap's shm.Handle in its own text form.
func (h Handle) String() string {
	return fmt.Sprintf("shared:1:%d:%d:%016x:%016x:%v", h.Kind, h.Offset, h.Key, h.Value, h.Heap)
}

// ParseHandle parses the text form made by Handle.String.
func ParseHandle(s string) (Handle, error) {
	f := strings.SplitN(s, ":", 7)
	if len(f) != 7 || f[0] != "shared" || f[1] != "1" {
		return Handle{}, fmt.Errorf("parse handle %q: not shared:1:...: %w", s, ErrHandle)
	}
	kind, err1 := strconv.ParseUint(f[2], 10, 16)
	off, err2 := strconv.ParseInt(f[3], 10, 64)
	key, err3 := strconv.ParseUint(f[4], 16, 64)
	val, err4 := strconv.ParseUint(f[5], 16, 64)
	heap, err5 := shm.ParseHandle(f[6])
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return Handle{}, fmt.Errorf("parse handle %q: %v: %w", s, err, ErrHandle)
	}
	return Handle{Heap: heap, Offset: off, Kind: shm.Kind(kind), Key: key, Value: val}, nil
}
