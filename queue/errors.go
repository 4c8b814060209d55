package queue

import (
	"errors"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/ring"
)

// Sentinel errors; every error from this package wraps one of these (or a
// context error, or one from package shm). Test with errors.Is.
//
// The meanings this package shares with package ring are ring's values, not
// copies: a queue that is closed, full or empty reports the same sentinel
// as a slot ring, so one errors.Is test serves both.
var (
	// ErrClosed: the queue or pipe was closed and, for readers, drained.
	ErrClosed = ring.ErrClosed
	// ErrFull: a non-blocking put found no room.
	ErrFull = ring.ErrFull
	// ErrEmpty: a non-blocking get found nothing.
	ErrEmpty = ring.ErrEmpty
	// ErrTooLarge: a message can never fit; nothing was written.
	ErrTooLarge = ring.ErrTooLarge
	// ErrCorrupt: the queue's shared bytes hold impossible values.
	ErrCorrupt = ring.ErrCorrupt
	// ErrCapacity: a configured size is negative or absurd.
	ErrCapacity = ring.ErrCapacity

	// ErrTaskDone: Joinable.TaskDone was called more times than messages
	// were put (Python's "task_done() called too many times").
	ErrTaskDone = errors.New("task done called too many times")
	// ErrPeerDied: the process at the other end of a pipe died; it wraps
	// ErrClosed too, so the pipe reads as closed (io.EOF for Read).
	ErrPeerDied = errors.New("pipe peer died")
	// ErrEncode: a value GobCodec cannot encode; the error names the part
	// that cannot travel ("value.Jobs (chan int)"). It is the one encoding
	// sentinel of the module (spawn.ErrEncode and shared.ErrEncode too).
	ErrEncode = errs.ErrEncode
)

// Registered so that errors.Is holds for them across the process boundary
// (a child's error rebuilt by spawn); ring registers the values this
// package shares with it too, and registering twice is harmless.
func init() {
	errs.Register(ErrClosed, ErrFull, ErrEmpty, ErrTooLarge, ErrCorrupt, ErrCapacity, ErrTaskDone, ErrPeerDied)
}
