package spawn

import (
	"context"
	"runtime"
	"strings"
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

// WatchingSIGTERM, called in a child, reports whether the child watches for
// SIGTERM, that is whether a SIGTERM now cancels the function's context
// instead of killing the process. The watcher starts watchDelay into the
// function (runChild, child.go) and then waits on its signal channel; this
// looks for that goroutine, parked on a channel receive in a closure of
// runChild, among the process's goroutines. Test binaries only: it knows
// child.go's shape, and a change there that hides the watcher makes the
// tests that wait for it time out saying so.
func WatchingSIGTERM() bool {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[chan receive") && strings.Contains(g, "forkless/spawn.runChild.func") &&
			strings.Contains(g, "created by time.goFunc") {
			return true
		}
	}
	return false
}
