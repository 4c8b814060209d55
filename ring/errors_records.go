package ring

import "errors"

// Sentinel errors of the queues and pipes (the shared ones are in
// errors.go).
var (
	// ErrTaskDone: JoinableQueue.TaskDone was called more times than
	// messages were put (Python's "task_done() called too many times").
	ErrTaskDone = errors.New("task done called too many times")
	// ErrPeerDied: the process at the other end of a pipe died; it wraps
	// ErrClosed too, so the pipe reads as closed (io.EOF for Read).
	ErrPeerDied = errors.New("pipe peer died")
)
