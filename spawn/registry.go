package spawn

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/registry"
)

// mainCalled is set by Main. After it, the registry is frozen: a function
// registered later exists in this process only, and a child would not have it.
var mainCalled atomic.Bool

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

// Register makes fn runnable in a child process under name. Call it from
// package scope:
//
//	var square = spawn.Register("main.square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
// The name is how every process of the binary, and any other machine
// running it, finds the function: errors, logs and the pool's messages say
// it. "<package>.<variable>" is the convention. It must be unique in the
// program, not empty, and hold no white space or control characters;
// otherwise Register panics, as flag and expvar do for a name defined twice:
// the program itself is wrong, and every process of it would be.
//
// fn's argument and result travel between processes: fixed-size,
// pointer-free types as their raw bytes, others through a Codec (Gob unless
// WithCodec says otherwise). A closure made inside a function, a bound
// method value, or a function registered after Main has run cannot run in a
// child; Register does not panic for those, but Start reports why with
// ErrClosure or ErrNotRegistered (and so does Err).
func Register[A, R any](name string, fn func(ctx context.Context, arg A) (R, error), opts ...RegisterOption) *Func[A, R] {
	if err := registry.CheckName(name); err != nil {
		panic("forkless/spawn: register: " + err.Error())
	}
	o := registerOptions{codec: Gob}
	for _, opt := range opts {
		opt(&o)
	}
	f := &Func[A, R]{name: name, codec: o.codec, err: refusal(name, fn)}
	var err error
	if f.err != nil {
		err = registry.Reserve(name)
	} else {
		err = registry.Add(registry.New(name, fn, o.codec))
	}
	if err != nil {
		panic("forkless/spawn: register " + err.Error())
	}
	return f
}

// closureName matches the runtime names of function literals declared inside
// a function ("pkg.F.func1") and of bound method values ("pkg.T.M-fm").
// Literals at package scope ("pkg.init.func1") capture nothing per process
// and are allowed.
var (
	closureName    = regexp.MustCompile(`\.func\d+$|-fm$`)
	packageLiteral = regexp.MustCompile(`\.init(\.\d+)?(\.func\d+)+$`)
)

// refusal says why fn cannot run in a child, or nil.
//
// Names are explicit, so the registry no longer needs the runtime's name of
// fn; the closure check stays because what it guards against is not a name
// clash but captured state: a closure made inside a function holds
// variables of this process (a file, a counter, a value computed at run
// time) that a child would rebuild only if its initialization happened to
// compute the same ones. It fails silently when it does not, so it is
// refused with an error that says what to do.
func refusal[A, R any](name string, fn func(context.Context, A) (R, error)) error {
	if fn == nil {
		return fmt.Errorf("register %s: nil function: %w", name, ErrNotRegistered)
	}
	goName := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	if closureName.MatchString(goName) && !packageLiteral.MatchString(goName) {
		return fmt.Errorf("register %s: %s is a closure or method value; declare it at package scope "+
			"(var f = spawn.Register(%q, fn)) and pass what it needs as its argument: %w", name, goName, name, ErrClosure)
	}
	if mainCalled.Load() {
		return fmt.Errorf("register %s after spawn.Main ran: a child would not know it; "+
			"register at package scope: %w", name, ErrNotRegistered)
	}
	return nil
}

// Name returns the name the function was registered under: the name a
// child looks it up by.
func (f *Func[A, R]) Name() string { return f.name }

// Codec returns the codec the function's argument and result travel
// through when they are not fixed-size and pointer-free.
func (f *Func[A, R]) Codec() Codec { return f.codec }

// Err reports why the function cannot be started in a child, or nil.
func (f *Func[A, R]) Err() error { return f.err }

func lookup(name string) (*registry.Entry, bool) { return registry.Lookup(name) }
