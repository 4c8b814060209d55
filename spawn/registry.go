package spawn

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/layout"
	"github.com/forkless-go/forkless/internal/wire"
)

// mainCalled is set by Main. After it, the registry is frozen: a function
// registered later exists in this process only, and a child would not have it.
var mainCalled atomic.Bool

var registry struct {
	sync.Mutex
	byName map[string]*entry
}

// entry is a registered function with its types erased: it decodes its
// argument and encodes its result itself.
type entry struct {
	name string
	// run calls the function and returns its encoded result.
	run func(ctx context.Context, arg []byte) ([]byte, error)
	// appendRun calls the function and appends its encoded result to dst.
	// For fixed-size, pointer-free argument and result types it makes no
	// allocation of its own.
	appendRun func(ctx context.Context, arg []byte, dst []byte) ([]byte, error)
}

// Func is a function that can run in a child process. Make one with
// Register at package scope, so that every process of the binary, the parent
// and each child, registers it the same way before Main runs.
type Func[A, R any] struct {
	name  string
	codec Codec
	err   error // why the function cannot be started, if it cannot
}

// RegisterOption configures Register.
type RegisterOption func(*registerOptions)

type registerOptions struct {
	codec Codec
}

// WithCodec makes the function's argument and result travel through c
// instead of Gob when they are not fixed-size and pointer-free (those always
// travel as raw bytes).
func WithCodec(c Codec) RegisterOption {
	return func(o *registerOptions) {
		if c != nil {
			o.codec = c
		}
	}
}

// closureName matches the runtime names of function literals declared inside
// a function ("pkg.F.func1") and of bound method values ("pkg.T.M-fm").
// Literals at package scope ("pkg.init.func1") capture nothing per process
// and are allowed.
var closureName = regexp.MustCompile(`\.func\d+$|-fm$`)
var packageLiteral = regexp.MustCompile(`\.init(\.\d+)?(\.func\d+)+$`)

// Register makes fn runnable in a child process. Call it from package scope:
//
//	var square = spawn.Register(func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
// fn's argument and result travel between processes: fixed-size,
// pointer-free types as their raw bytes, others through a Codec (Gob unless
// WithCodec says otherwise). A closure made inside a function, a bound
// method value, or a function registered after Main has run cannot run in a
// child; Register does not panic, but Start reports why with ErrClosure or
// ErrNotRegistered (and so does Err).
func Register[A, R any](fn func(ctx context.Context, arg A) (R, error), opts ...RegisterOption) *Func[A, R] {
	o := registerOptions{codec: Gob}
	for _, opt := range opts {
		opt(&o)
	}
	if fn == nil {
		return &Func[A, R]{codec: o.codec, err: fmt.Errorf("register nil function: %w", ErrNotRegistered)}
	}
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	f := &Func[A, R]{name: name, codec: o.codec}
	if closureName.MatchString(name) && !packageLiteral.MatchString(name) {
		f.err = fmt.Errorf("register %s: it is a closure or method value; declare it at package scope "+
			"(var f = spawn.Register(fn)) and pass what it needs as its argument: %w", name, ErrClosure)
		return f
	}
	if mainCalled.Load() {
		f.err = fmt.Errorf("register %s after spawn.Main ran: a child would not know it; "+
			"register at package scope: %w", name, ErrNotRegistered)
		return f
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.byName == nil {
		registry.byName = make(map[string]*entry)
	}
	if _, ok := registry.byName[name]; !ok {
		registry.byName[name] = newEntry(name, fn, o.codec)
	}
	return f
}

// newEntry erases fn's types. Whether the argument and the result travel
// raw is decided here, once: the raw paths copy bytes in and out of values
// that stay on the stack, so a call allocates nothing but what fn does.
func newEntry[A, R any](name string, fn func(context.Context, A) (R, error), codec Codec) *entry {
	decodeArg := func(b []byte) (A, error) {
		var arg A
		err := wire.Decode(codec, b, &arg)
		return arg, err
	}
	if info, err := layout.Of[A](); err == nil {
		size := int(info.Size)
		decodeArg = func(b []byte) (A, error) {
			var arg A
			if len(b) != size {
				return arg, fmt.Errorf("%d bytes for a %d-byte %T", len(b), size, arg)
			}
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&arg)), size), b)
			return arg, nil
		}
	}
	appendResult := func(dst []byte, res R) ([]byte, error) {
		b, err := wire.Encode(codec, res, "result")
		return append(dst, b...), err
	}
	if info, err := layout.Of[R](); err == nil {
		size := int(info.Size)
		appendResult = func(dst []byte, res R) ([]byte, error) {
			return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&res)), size)...), nil
		}
	}
	e := &entry{name: name}
	e.appendRun = func(ctx context.Context, argBytes []byte, dst []byte) ([]byte, error) {
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
	e.run = func(ctx context.Context, argBytes []byte) ([]byte, error) {
		out, err := e.appendRun(ctx, argBytes, nil)
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

// Name returns the name a child looks the function up by: its full
// package-qualified Go name.
func (f *Func[A, R]) Name() string { return f.name }

// Err reports why the function cannot be started in a child, or nil.
func (f *Func[A, R]) Err() error { return f.err }

func lookup(name string) (*entry, bool) {
	registry.Lock()
	defer registry.Unlock()
	e, ok := registry.byName[name]
	return e, ok
}
