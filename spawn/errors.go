package spawn

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"

	ierrs "github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/wire"
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
	// ErrEncode: an argument or result could not be encoded. It is
	// wire.ErrEncode, the one declaration of that meaning.
	ErrEncode = wire.ErrEncode
	// ErrStarted: Start was called on a process that was already started.
	ErrStarted = errors.New("process already started")
	// ErrNotStarted: Wait, Kill or Terminate on a process never started.
	ErrNotStarted = errors.New("process not started")
	// ErrClosed: the process was closed. It is also an errs "closed"
	// (shm.ErrClosed).
	ErrClosed = ierrs.Kind("process closed", ierrs.ErrClosed)
	// ErrSetup: the child started but could not prepare its function (a
	// shared region would not attach).
	ErrSetup = errors.New("child setup failed")
)

// ChildError is an error or panic of a child's function, carried back to
// the parent with where it happened.
//
// errors.Is and errors.As see through it to the sentinel errors the child's
// error wrapped, when those are registered with RegisterError (the standard
// library's io, io/fs, os, context and syscall.Errno errors, and this
// module's sentinels, are registered already):
//
//	_, err := p.Wait(ctx)
//	if errors.Is(err, fs.ErrNotExist) { ... } // the child's os.Open failed
type ChildError struct {
	Pid      int    // the child's process id
	Func     string // the registered function's name
	Name     string // the child's process name
	Message  string // the error's text, or the panic value printed
	Type     string // the Go type of the error or panic value, like "*fs.PathError"
	Panicked bool   // the function panicked rather than returned an error
	Stack    string // the child's stack at the panic, if it panicked
	// Keys name the registered sentinel errors (RegisterError) found in
	// the child's error, as both processes know them: Unwrap returns the
	// ones this process knows. They are plain strings so that a ChildError
	// can travel further (another executor may marshal it whole).
	Keys []string
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

// Unwrap returns the child's sentinel errors that this process knows, so
// that errors.Is and errors.As find them.
func (e *ChildError) Unwrap() []error { return wire.Rebuild(e.Keys) }

// childError is the ChildError of body, the error or panic of function fn
// in child pid named name.
func childError(pid int, fn, name string, body wire.ErrorBody) *ChildError {
	return &ChildError{
		Pid: pid, Func: fn, Name: name, Message: body.Message, Type: body.Type,
		Panicked: body.Panicked, Stack: body.Stack, Keys: body.Keys,
	}
}

// ExitError reports a child that ended without returning a result: it was
// killed by a signal or exited on its own (os.Exit, a fatal runtime error),
// possibly before it could even attach (a binary that does not call
// spawn.Main first). It wraps ErrDied.
type ExitError struct {
	Pid      int
	Func     string
	Name     string // the child's process name
	ExitCode int    // as Python reports it: the exit status, or -N for signal N
	Attached bool   // the child reached its function before it ended
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exit status %d", e.ExitCode)
	if e.ExitCode < 0 {
		how = fmt.Sprintf("killed by signal %d (%v)", -e.ExitCode, syscall.Signal(-e.ExitCode))
	}
	if !e.Attached && e.ExitCode >= 0 {
		return fmt.Sprintf("child %d: %s: %s before it attached (does the program call spawn.Main() "+
			"first thing in main or TestMain?): %v", e.Pid, e.Func, how, ErrDied)
	}
	if !e.Attached {
		return fmt.Sprintf("child %d: %s: %s before it attached: %v", e.Pid, e.Func, how, ErrDied)
	}
	return fmt.Sprintf("child %d: %s: %s: %v", e.Pid, e.Func, how, ErrDied)
}

func (e *ExitError) Unwrap() error { return ErrDied }

// RegisterError makes errors.Is work across the process boundary for errs:
// when a child's function returns an error that wraps one of them, the
// parent's *ChildError unwraps to the same error value. Call it at package
// scope or in init, before spawn.Main, like Register:
//
//	var ErrOutOfStock = errors.New("out of stock")
//	func init() { spawn.RegisterError(ErrOutOfStock) }
//
// Only comparable error values can be registered (errors.New values are).
// Two errors with the same type and text are one key; the first wins.
// Every forkless package registers its own sentinels.
func RegisterError(errs ...error) { ierrs.Register(errs...) }

// RegisterErrorType makes error values of type E travel with their
// fields: when a child's function returns an error whose tree holds an E
// (errors.As), the parent's *ChildError unwraps to an E decoded from it, so
// errors.As(err, &e) holds in the parent with the child's fields. Call it
// at package scope or in init, like Register:
//
//	type OutOfStock struct{ Item string; Left int }
//	func (e *OutOfStock) Error() string { ... }
//	func init() { spawn.RegisterErrorType[*OutOfStock]() }
//
// E's exported fields travel through gob (an E gob cannot encode travels
// as text only, as an unregistered error does).
func RegisterErrorType[E error]() { wire.RegisterErrorType(reflect.TypeFor[E]()) }

func init() {
	RegisterError(ErrNotRegistered, ErrClosure, ErrNoMain, ErrDied, ErrEncode, ErrStarted, ErrNotStarted, ErrClosed, ErrSetup)
}
