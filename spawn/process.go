package spawn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"

	"github.com/forkless-go/forkless/shm"
)

// Option configures Start.
type Option func(*options)

type options struct {
	regions []*shm.Region
}

// Share passes regions to the child. The child attaches each one before its
// function runs, so handles into them bind there (shm.OpenArray and the
// like). Anonymous regions can reach a child no other way.
func Share(regions ...*shm.Region) Option {
	return func(o *options) { o.regions = append(o.regions, regions...) }
}

// Process is a child process running a registered function. Its result
// comes back through Wait.
type Process[R any] struct {
	fn   string
	cmd  *exec.Cmd
	reqW *os.File // held open while the child lives: see protocol.go

	done     chan struct{} // closed when the child has exited and been reaped
	result   R
	err      error
	exitCode int

	killOnce sync.Once
}

// Start starts fn(arg) in a new process: the running binary again, which
// finds fn in its registry once it calls Main. ctx bounds the start only;
// use Wait with a context, or Kill, to bound the child's life.
func (f *Func[A, R]) Start(ctx context.Context, arg A, opts ...Option) (*Process[R], error) {
	if f.err != nil {
		return nil, fmt.Errorf("start child: %w", f.err)
	}
	if !mainCalled.Load() {
		return nil, fmt.Errorf("start %s: call spawn.Main() first thing in main (or TestMain): %w", f.name, ErrNoMain)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", f.name, err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	argBytes, err := encode(arg)
	if err != nil {
		return nil, fmt.Errorf("start %s: argument: %w", f.name, err)
	}
	exe, err := executable()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", f.name, err)
	}

	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", f.name, err)
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("start %s: %w", f.name, err)
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{os.Args[0]}
	cmd.Env = append(os.Environ(), envChild+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{reqR, respW}
	for _, r := range o.regions {
		if r == nil || r.File() == nil || r.Raw() {
			reqR.Close()
			reqW.Close()
			respR.Close()
			respW.Close()
			return nil, fmt.Errorf("start %s: cannot share %v", f.name, r)
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, r.File())
	}
	cmd.SysProcAttr = sysProcAttr()
	err = startCommand(cmd)
	reqR.Close() // the child has its copies now
	respW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		return nil, fmt.Errorf("start %s: %w", f.name, err)
	}

	p := &Process[R]{fn: f.name, cmd: cmd, reqW: reqW, done: make(chan struct{}), exitCode: -1}
	go p.reap(respR)
	// A pipe holds 64 KiB: a larger argument is written while the child
	// reads, and a child that dies first makes this fail with EPIPE.
	if _, err := reqW.Write(request{name: f.name, arg: argBytes, nRegions: len(o.regions)}.marshal()); err != nil {
		p.Kill()
		<-p.done
		return nil, fmt.Errorf("start %s: send request: %w", f.name, err)
	}
	return p, nil
}

// Run starts fn(arg) in a child and waits for its result. Cancelling ctx
// kills the child.
func (f *Func[A, R]) Run(ctx context.Context, arg A, opts ...Option) (R, error) {
	p, err := f.Start(ctx, arg, opts...)
	if err != nil {
		var zero R
		return zero, err
	}
	res, err := p.Wait(ctx)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		p.Kill()
		<-p.done
	}
	return res, err
}

// reap collects the child's response and exit status.
func (p *Process[R]) reap(respR *os.File) {
	defer close(p.done)
	br := bufio.NewReader(respR)
	resp, respErr := readResponse(br)
	io.Copy(io.Discard, br) // until the child, and every copy of the pipe, is gone
	respR.Close()
	waitErr := p.cmd.Wait()
	p.reqW.Close()
	p.exitCode = exitCode(p.cmd.ProcessState)
	pid := p.cmd.Process.Pid
	switch {
	case respErr != nil:
		if waitErr == nil && p.exitCode == 0 {
			p.err = fmt.Errorf("child %d: %s: exited 0 without a result: %w", pid, p.fn, ErrDied)
		} else {
			p.err = &ExitError{Pid: pid, Func: p.fn, ExitCode: p.exitCode}
		}
	case resp.status == statusOK:
		if err := decode(resp.result, &p.result); err != nil {
			p.err = fmt.Errorf("child %d: %s: decode result: %w", pid, p.fn, err)
		}
	default:
		p.err = &ChildError{Pid: pid, Func: p.fn, Message: resp.message, Panicked: resp.status == statusPanic, Stack: resp.stack}
	}
}

// Pid returns the child's process id.
func (p *Process[R]) Pid() int { return p.cmd.Process.Pid }

// Wait waits for the child to exit and returns its function's result. An
// error of the function comes back as a *ChildError, a child that died
// without a result as an *ExitError. When ctx ends first, Wait returns the
// context's error and the child runs on.
func (p *Process[R]) Wait(ctx context.Context) (R, error) {
	select {
	case <-p.done:
		return p.result, p.err
	case <-ctx.Done():
		var zero R
		return zero, fmt.Errorf("wait for child %d: %w", p.Pid(), ctx.Err())
	}
}

// Done returns a channel closed when the child has exited.
func (p *Process[R]) Done() <-chan struct{} { return p.done }

// ExitCode returns the child's exit code as Python reports it (the exit
// status, or -N when signal N killed it) and whether the child has exited.
func (p *Process[R]) ExitCode() (code int, exited bool) {
	select {
	case <-p.done:
		return p.exitCode, true
	default:
		return 0, false
	}
}

// Kill ends the child with SIGKILL. Killing a child that already exited is
// not an error.
func (p *Process[R]) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill child %d: %w", p.Pid(), err)
	}
	return nil
}
