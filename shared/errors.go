package shared

import (
	"errors"

	"github.com/forkless-go/forkless/internal/errs"
)

// Sentinel errors. Every error from this package wraps one of these, or
// one from package shm (shm.ErrNoSpace when the heap is full, shm.ErrClosed
// after the region was closed, ...); test with errors.Is.
var (
	// ErrNotFound: the dict holds no such key.
	ErrNotFound = errors.New("key not found")
	// ErrIndex: a list index is out of range.
	ErrIndex = errors.New("index out of range")
	// ErrEmpty: Pop on an empty list, PopItem on an empty dict.
	ErrEmpty = errors.New("list empty")
	// ErrFixed: Append or Pop on a fixed-length ShareableList or Record.
	ErrFixed = errors.New("container has a fixed length")
	// ErrTooLarge: a key or value exceeds what one entry may hold. It is
	// also shm.ErrTooLarge.
	ErrTooLarge = errs.Kind("entry too large", errs.ErrTooLarge)
	// ErrCorrupt: the container's shared bytes hold impossible values. It
	// is also shm.ErrCorrupt.
	ErrCorrupt = errs.Kind("container corrupt", errs.ErrCorrupt)
	// ErrHandle: a handle does not name a container of this kind and type.
	ErrHandle = errors.New("invalid container handle")
	// ErrTimeout: the container's lock was not acquired within the timeout
	// set with SetTimeout.
	ErrTimeout = errors.New("container lock timed out")
	// ErrCodec: a value could not be encoded or decoded by the codec. It
	// is also ErrEncode.
	ErrCodec = errs.Kind("value codec failed", errs.ErrEncode)
	// ErrEncode: a key or value cannot be stored (a key type that is not a
	// string, []byte or fixed-size; a value with a channel or function in
	// it; a codec's failure). The error names the part that cannot travel,
	// as "value.Jobs (chan int)". It is spawn.ErrEncode too: one encoding
	// sentinel for every forkless package.
	ErrEncode = errs.ErrEncode
)

func init() {
	errs.Register(ErrNotFound, ErrIndex, ErrEmpty, ErrFixed, ErrTooLarge, ErrCorrupt, ErrHandle, ErrTimeout, ErrCodec)
}
