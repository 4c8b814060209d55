package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unicode"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/wire"
)

// Entry is a registered function with its types erased.
type Entry struct {
	Name  string
	Codec wire.Codec
	// Run calls the function on an encoded argument and returns its encoded
	// result (never nil: a zero-size result is still a result).
	Run func(ctx context.Context, arg []byte) ([]byte, error)
	// AppendRun calls the function and appends its encoded result to dst.
	// For fixed-size, pointer-free argument and result types it makes no
	// allocation of its own.
	AppendRun func(ctx context.Context, arg []byte, dst []byte) ([]byte, error)
}

var table struct {
	sync.Mutex
	byName map[string]*Entry // nil for a name reserved by a function that cannot run
}

// ErrDuplicate: the name is registered already.
var ErrDuplicate = errors.New("name registered twice")

// CheckName reports why name cannot name a function, or nil: it must not
// be empty, and must hold no white space or control characters (a name
// travels in errors, logs and other machines' messages as one word).
func CheckName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("name %q holds white space, a control character or invalid UTF-8", name)
		}
	}
	return nil
}

// Add registers e under e.Name. It fails with ErrDuplicate when the name is
// taken.
func Add(e *Entry) error { return add(e.Name, e) }

// Reserve takes name for a function that cannot run (a closure, or one
// registered too late), so that a second registration of the name is still
// caught.
func Reserve(name string) error { return add(name, nil) }

func add(name string, e *Entry) error {
	table.Lock()
	defer table.Unlock()
	if table.byName == nil {
		table.byName = make(map[string]*Entry)
	}
	if _, dup := table.byName[name]; dup {
		return fmt.Errorf("%q: %w", name, ErrDuplicate)
	}
	table.byName[name] = e
	return nil
}

// Lookup returns the runnable function registered as name.
func Lookup(name string) (*Entry, bool) {
	table.Lock()
	defer table.Unlock()
	e := table.byName[name]
	return e, e != nil
}

// New erases fn's types. Whether the argument and the result travel raw is
// decided here, once: the raw paths copy bytes in and out of values that
// stay on the stack, so a call allocates nothing but what fn does.
func New[A, R any](name string, fn func(context.Context, A) (R, error), codec wire.Codec) *Entry {
	decodeArg := argDecoder[A](codec)
	appendResult := resultAppender[R](codec)
	e := &Entry{Name: name, Codec: codec}
	e.AppendRun = func(ctx context.Context, argBytes []byte, dst []byte) ([]byte, error) {
		arg, err := decodeArg(argBytes)
		if err != nil {
			return dst, fmt.Errorf("decode argument of %s: %w", name, err)
		}
		res, err := fn(ctx, arg)
		if err != nil {
			return dst, err
		}
		out, err := appendResult(dst, res)
		if err != nil {
			return dst, fmt.Errorf("encode result of %s: %w", name, err)
		}
		return out, nil
	}
	e.Run = func(ctx context.Context, argBytes []byte) ([]byte, error) {
		out, err := e.AppendRun(ctx, argBytes, nil)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = []byte{} // a zero-size result is still a result
		}
		return out, nil
	}
	return e
}

func argDecoder[A any](codec wire.Codec) func([]byte) (A, error) {
	info, err := layout.Of[A]()
	if err != nil {
		return func(b []byte) (A, error) {
			var arg A
			err := wire.DecodeArg(codec, b, &arg) // descriptors too (wire/files.go)
			return arg, err
		}
	}
	size := int(info.Size)
	return func(b []byte) (A, error) {
		var arg A
		if len(b) != size {
			return arg, fmt.Errorf("%d bytes for a %d-byte %T", len(b), size, arg)
		}
		copy(mapped.Bytes(&arg), b)
		return arg, nil
	}
}

func resultAppender[R any](codec wire.Codec) func([]byte, R) ([]byte, error) {
	if _, err := layout.Of[R](); err == nil {
		return func(dst []byte, res R) ([]byte, error) {
			return append(dst, mapped.Bytes(&res)...), nil
		}
	}
	return func(dst []byte, res R) ([]byte, error) {
		b, err := wire.Encode(codec, res, "result")
		return append(dst, b...), err
	}
}
