package ring

import (
	"errors"

	"github.com/forkless-go/forkless/internal/errs"
)

// Sentinel errors; every error from this package wraps one of these (or a
// context error, or one from package shm). Test with errors.Is. ErrClosed,
// ErrCorrupt and ErrTooLarge are also the shared meanings of package shm
// (shm.ErrClosed, shm.ErrCorrupt, shm.ErrTooLarge): one errors.Is test with
// those catches every package's case. Package queue reports these same
// values.
var (
	// ErrClosed: the ring, queue or pipe was closed and, for readers, drained.
	ErrClosed = errs.Kind("ring closed", errs.ErrClosed)
	// ErrFull: a non-blocking put found no room.
	ErrFull = errors.New("ring full")
	// ErrEmpty: a non-blocking get found nothing.
	ErrEmpty = errors.New("ring empty")
	// ErrTooLarge: a message can never fit; nothing was written.
	ErrTooLarge = errs.Kind("message too large", errs.ErrTooLarge)
	// ErrCorrupt: the ring's shared bytes hold impossible values.
	ErrCorrupt = errs.Kind("ring corrupt", errs.ErrCorrupt)
	// ErrCapacity: a capacity is zero, negative, not a power of two where one
	// is needed, or absurd.
	ErrCapacity = errors.New("invalid capacity")
)

// Registered so that errors.Is holds for them across the process boundary
// (a child's error rebuilt by spawn).
func init() { errs.Register(ErrClosed, ErrFull, ErrEmpty, ErrTooLarge, ErrCorrupt, ErrCapacity) }
