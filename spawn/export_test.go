package spawn

import "context"

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
