package spawn

import (
	"context"
	"sync"
)

// Test hooks: options that switch off one of the two parent-death
// mechanisms, so a test can prove the other works alone.

// WithoutPdeathsig starts the child without Pdeathsig.
func WithoutPdeathsig() Option { return func(o *options) { o.noPdeathsig = true } }

// WithoutPipeWatch tells the child not to watch its request pipe for EOF.
func WithoutPipeWatch() Option { return func(o *options) { o.noWatchPipe = true } }

// StartUnknown starts a child asked to run a function it does not know.
func StartUnknown[A, R any](f *Func[A, R], arg A) (*Process[R], error) {
	p := f.New(arg)
	p.fn = "no.such.Function"
	return p, p.Start(context.Background())
}

// Attached reports whether p's child has written its ready marker: it has
// read its request, attached its regions and is about to call its function.
func Attached[R any](p *Process[R]) bool { return p.attached.Load() }

// watching is closed in a child once it watches for SIGTERM: child.go
// calls onWatching right after it installs the watcher.
var watching = make(chan struct{})

func init() { onWatching = sync.OnceFunc(func() { close(watching) }) }

// WatchingSIGTERM, called in a child, returns a channel closed once the
// child watches for SIGTERM, that is once a SIGTERM cancels the function's
// context instead of killing the process. The watcher starts watchDelay
// into the function (runChild, child.go).
func WatchingSIGTERM() <-chan struct{} { return watching }
