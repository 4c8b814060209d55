package errs

import "errors"

// The meanings several packages share. shm re-exports them (shm.ErrClosed,
// shm.ErrCorrupt, shm.ErrTooLarge); every package's own "closed", "corrupt"
// and "too large" sentinels wrap them, so one errors.Is test catches every
// package's case.
var (
	// ErrClosed: the object (a region, or anything that lives in one) was
	// closed in this process, or its peer closed it.
	ErrClosed = errors.New("closed")
	// ErrCorrupt: shared bytes hold values this process did not and could
	// not have written: an offset, length, sequence or owner out of range.
	ErrCorrupt = errors.New("shared memory corrupt")
	// ErrTooLarge: a message, entry or result can never fit; nothing was
	// written.
	ErrTooLarge = errors.New("too large")
)

// kind is a sentinel with a text of its own that is also a case of a
// shared meaning. It is a pointer, so each Kind call makes a distinct,
// comparable value.
type kind struct {
	text string
	base error
}

func (k *kind) Error() string { return k.text }
func (k *kind) Unwrap() error { return k.base }

// Kind returns a new sentinel error with the given text that errors.Is
// also reports as base:
//
//	var ErrClosed = errs.Kind("ring closed", errs.ErrClosed)
func Kind(text string, base error) error { return &kind{text: text, base: base} }
