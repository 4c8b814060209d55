package spawn

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotRegistered: the function was not registered from package scope
	// before spawn.Main ran, so a child could not find it.
	ErrNotRegistered = errors.New("function not registered")
	// ErrClosure: the function is a closure or a bound method value. Its
	// captured variables live in this process's memory and cannot travel.
	ErrClosure = errors.New("closures cannot run in another process")
	// ErrNoMain: spawn.Main was not called first thing in main or TestMain.
	ErrNoMain = errors.New("spawn.Main was not called")
	// ErrDied: the child exited without returning a result.
	ErrDied = errors.New("child exited without a result")
	// ErrEncode: an argument or result could not be encoded.
	ErrEncode = errors.New("cannot encode")
)

// ChildError is an error or panic of a child's function, carried back to
// the parent with where it happened.
type ChildError struct {
	Pid      int    // the child's process id
	Func     string // the registered function's name
	Message  string // the error's text, or the panic value printed
	Panicked bool   // the function panicked rather than returned an error
	Stack    string // the child's stack at the panic, if it panicked
}

func (e *ChildError) Error() string {
	var b strings.Builder
	if e.Panicked {
		fmt.Fprintf(&b, "child %d: %s panicked: %s", e.Pid, e.Func, e.Message)
	} else {
		fmt.Fprintf(&b, "child %d: %s: %s", e.Pid, e.Func, e.Message)
	}
	return b.String()
}

// ExitError reports a child that ended without returning a result: it was
// killed by a signal or exited on its own (os.Exit, a fatal runtime error).
// It wraps ErrDied.
type ExitError struct {
	Pid      int
	Func     string
	ExitCode int // as Python reports it: the exit status, or -N for signal N
}

func (e *ExitError) Error() string {
	if e.ExitCode < 0 {
		return fmt.Sprintf("child %d: %s: killed by signal %d: %v", e.Pid, e.Func, -e.ExitCode, ErrDied)
	}
	return fmt.Sprintf("child %d: %s: exit status %d: %v", e.Pid, e.Func, e.ExitCode, ErrDied)
}

func (e *ExitError) Unwrap() error { return ErrDied }
