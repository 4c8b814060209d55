package ring

import "errors"

// Sentinel errors; every error from this package wraps one of these (or a
// context error, or one from package shm). Test with errors.Is.
var (
	// ErrClosed: the ring, queue or pipe was closed and, for readers, drained.
	ErrClosed = errors.New("ring closed")
	// ErrFull: a non-blocking put found no room.
	ErrFull = errors.New("ring full")
	// ErrEmpty: a non-blocking get found nothing.
	ErrEmpty = errors.New("ring empty")
	// ErrTooLarge: a message can never fit; nothing was written.
	ErrTooLarge = errors.New("message too large")
	// ErrCorrupt: the ring's shared bytes hold impossible values.
	ErrCorrupt = errors.New("ring corrupt")
	// ErrCapacity: a capacity is zero, negative, not a power of two where one
	// is needed, or absurd.
	ErrCapacity = errors.New("invalid capacity")
)
