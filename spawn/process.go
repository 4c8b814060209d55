package spawn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
)

// Option configures a process: Share, Name, Daemon, Stdout, Stderr, Prefix,
// Env, TerminateGrace.
type Option func(*options)

type options struct {
	regions        []*shm.Region
	name           string
	daemon         bool
	stdout, stderr io.Writer
	prefix         *string
	env            []string
	termGrace      *time.Duration
	logs           bool         // ForwardLogs
	logsTo         slog.Handler // ForwardLogs' handler, nil: slog's default
	noPdeathsig    bool         // tests only (export_test.go)
	noWatchPipe    bool         // tests only (export_test.go)
}

// Share passes regions to the child. The child attaches each one before its
// function runs, so handles into them bind there (shm.OpenArray and the
// like). Anonymous regions can reach a child no other way.
func Share(regions ...*shm.Region) Option {
	return func(o *options) { o.regions = append(o.regions, regions...) }
}

// Name names the process; the child sees it as CurrentProcess().Name. The
// default is Python's: "Process-N", with the parent's number in front in a
// child ("Process-2:1").
func Name(name string) Option { return func(o *options) { o.name = name } }

// Daemon marks the child as a daemon, as Python's daemon=True does: when its
// parent shuts down (Shutdown, or the return of the function in a child),
// daemon children are terminated, while ordinary children are waited for.
// Either kind dies with its parent's process.
func Daemon() Option { return func(o *options) { o.daemon = true } }

// Stdout sends the child's standard output to w instead of this process's
// standard output (the default, shared directly). Pass a *bytes.Buffer to
// capture it: it is complete once Wait returns. A file is handed to the
// child; any other writer gets whole lines, one Write each, serialised
// with those of every other child writing to the same w (by ==), so
// several children, or a pool's workers (pool.WorkerOptions), may share a
// plain *bytes.Buffer. A line reaches w once it is complete (or 64 KiB
// long), a last unfinished one when the child exits.
func Stdout(w io.Writer) Option { return func(o *options) { o.stdout = w } }

// Stderr sends the child's standard error to w, like Stdout.
func Stderr(w io.Writer) Option { return func(o *options) { o.stderr = w } }

// Prefix forwards the child's standard output and error to this process's,
// line by line, each line starting with prefix; an empty prefix means
// "[NAME] " with the process's name. Lines of different children never mix.
// Stdout and Stderr, when given too, take precedence for their stream.
func Prefix(prefix string) Option { return func(o *options) { o.prefix = &prefix } }

// Env adds "KEY=value" entries to the child's environment, which is
// otherwise this process's.
func Env(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

// DefaultTerminateGrace is how long a child's function has, after a
// SIGTERM cancelled its context, to return before the child ends anyway
// (TerminateGrace).
const DefaultTerminateGrace = 500 * time.Millisecond

// TerminateGrace sets how long the function of a child that gets SIGTERM
// (Terminate, Stop, or a signal from elsewhere) has to return once its
// context is cancelled: its result, if it returns in time, comes back
// through Wait; otherwise the child dies of the SIGTERM at the end of the
// grace, as Python's terminate ends the process, and Wait returns an
// *ExitError. Either way the exit code is -15. The default is
// DefaultTerminateGrace; 0 ends the child at once, and a negative d counts
// as 0.
func TerminateGrace(d time.Duration) Option {
	return func(o *options) { d = max(d, 0); o.termGrace = &d }
}

// Life-cycle states of a Process.
const (
	stateNew = iota
	stateRunning
	stateClosed
)

// Process is a child process running a registered function, the
// counterpart of Python's multiprocessing.Process. Make one with Func.Start
// (started at once) or Func.New (started later with Start). Its result comes
// back through Wait. All methods are safe for concurrent use.
type Process[R any] struct {
	_     noCopy
	fn    string
	codec Codec
	ferr  error // the Func's error: Start reports it
	// arg encodes the argument, at Start, with the descriptors it carries
	// (owned: made for the child, closed once it started).
	arg func() (b []byte, files, owned []*os.File, err error)
	// shares returns the regions to pass: the Share option's and those of
	// the shared objects in the argument (travel.go), at Start.
	shares  func() ([]*shm.Region, error)
	regions []*shm.Region // what shares returned, at Start
	files   []*os.File    // the argument's descriptors, at Start
	owned   []*os.File    // those of files made for the child: closed once it started
	opts    options
	name    string
	ident   string

	mu      sync.Mutex // guards state, cmd, reqW, flushes and Start as a whole
	state   int
	cmd     *exec.Cmd
	reqW    *os.File // held open while the child lives: see protocol.go
	flushes []func() // prefix writers to flush when the child is gone
	pid     atomic.Int64

	attached atomic.Bool   // the child reported it reached its function
	done     chan struct{} // closed when the child has exited and been reaped
	logsDone chan struct{} // closed when the child's log pipe is drained
	result   R             // written before done is closed, read after
	err      error
	exitCode int
}

// nextChild numbers this process's children for their default names.
var nextChild atomic.Int64

// New makes a process that will run f(arg) once started with Start, like
// Python's Process(target=f, args=(arg,)). Nothing happens until Start.
func (f *Func[A, R]) New(arg A, opts ...Option) *Process[R] {
	p := &Process[R]{
		fn:       f.name,
		codec:    f.codec,
		ferr:     f.err,
		done:     make(chan struct{}),
		exitCode: -1,
	}
	codec := f.codec
	p.arg = func() ([]byte, []*os.File, []*os.File, error) { return wire.EncodeArg(codec, arg) }
	for _, opt := range opts {
		opt(&p.opts)
	}
	p.shares = func() ([]*shm.Region, error) { return p.opts.regions, nil }
	if mayHold(reflect.TypeFor[A]()) { // plain data is not walked
		p.shares = func() ([]*shm.Region, error) { return argRegions(arg, p.opts.regions) }
	}
	n := strconv.FormatInt(nextChild.Add(1), 10)
	if id := self.identity; id != "" {
		p.ident = id + ":" + n
	} else {
		p.ident = n
	}
	p.name = p.opts.name
	if p.name == "" {
		p.name = "Process-" + p.ident
	}
	return p
}

// Start starts fn(arg) in a new process: the running binary again, which
// finds fn in its registry once it calls Main. ctx bounds the start only;
// use Wait with a context, Terminate or Kill to bound the child's life.
func (f *Func[A, R]) Start(ctx context.Context, arg A, opts ...Option) (*Process[R], error) {
	if f.err != nil {
		return nil, fmt.Errorf("start child: %w", f.err)
	}
	p := f.New(arg, opts...)
	if err := p.Start(ctx); err != nil {
		return nil, err
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

// Start starts the process. A process starts at most once: a second Start
// returns ErrStarted, a Start after Close ErrClosed. An argument that cannot
// be encoded is refused here with ErrEncode and the path to the offending
// part. ctx bounds the start only.
func (p *Process[R]) Start(ctx context.Context) error {
	p.mu.Lock()
	rest, err := p.startLocked(ctx)
	cmd, reqW := p.cmd, p.reqW
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return nil
	}
	// The part of the request that did not fit in the pipe before the
	// start, written now, while the child reads. Written without the lock:
	// reap takes it when the child exits. A child that dies first makes
	// this fail with EPIPE.
	if _, err := reqW.Write(rest); err != nil {
		cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("start %s: send request to child %d: %w", p.fn, cmd.Process.Pid, err)
	}
	return nil
}

// startLocked starts the child and returns the part of its request that is
// still to be written.
func (p *Process[R]) startLocked(ctx context.Context) ([]byte, error) {
	var none []byte
	argBytes, err := p.startable(ctx)
	if err != nil {
		return none, err
	}
	defer func() { closeAll(p.owned); p.owned = nil }() // the child has its copies once started
	exe, err := executable()
	if err != nil {
		return none, fmt.Errorf("start %s: %w", p.fn, err)
	}

	q := p.request(argBytes)
	logR, logW, err := p.openLogPipe(&q)
	if err != nil {
		return none, fmt.Errorf("start %s: %w", p.fn, err)
	}
	if logW != nil {
		defer logW.Close() // the child has its copy once started
	}
	frame := q.marshal()

	reqR, reqW, err := os.Pipe()
	if err != nil {
		return none, fmt.Errorf("start %s: %w", p.fn, err)
	}
	// Whatever fits in the pipe (64 KiB, usually the whole request) goes in
	// before the child starts: the child finds its request waiting and
	// never sleeps on it, nor waits for this goroutine to be scheduled again.
	// The header at least must be there (the child checks its token without
	// waiting long): it always fits in an empty pipe.
	sent := tryWrite(reqW, frame)
	if sent < headerLen {
		if _, err := reqW.Write(frame[sent:headerLen]); err != nil {
			reqR.Close()
			reqW.Close()
			return none, fmt.Errorf("start %s: %w", p.fn, err)
		}
		sent = headerLen
	}
	rest := frame[sent:]
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return none, fmt.Errorf("start %s: %w", p.fn, err)
	}
	cmd := p.command(exe, q.token, reqR, respW)
	if logW != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, logW)
	}
	err = startCommand(cmd)
	reqR.Close() // the child has its copies now
	respW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		if logR != nil {
			logR.Close()
		}
		p.flushOutputs()
		return none, fmt.Errorf("start %s: %w", p.fn, err)
	}
	p.cmd, p.reqW, p.state = cmd, reqW, stateRunning
	p.pid.Store(int64(cmd.Process.Pid))
	addActive(p)
	logger().Debug("forkless/spawn: started", "name", p.name, "pid", cmd.Process.Pid, "func", p.fn, "daemon", p.opts.daemon)
	p.logsDone = noLogs
	if logR != nil {
		p.logsDone = make(chan struct{})
		go func() {
			defer close(p.logsDone)
			readLogs(logR, p.opts.logsTo, p.name, cmd.Process.Pid)
		}()
	}
	go p.reap(respR, logR)

	return rest, nil
}

// request is the child's request, for the encoded argument argBytes.
func (p *Process[R]) request(argBytes []byte) request {
	q := request{
		fn: p.fn, arg: argBytes, nRegions: len(p.regions), nFiles: len(p.files),
		name: p.name, identity: p.ident,
		parentName: self.name, parentPid: os.Getpid(), parentStart: proc.Self().Start,
		termGrace: DefaultTerminateGrace,
	}
	if p.opts.termGrace != nil {
		q.termGrace = *p.opts.termGrace
	}
	rand.Read(q.token[:]) // never fails (crypto/rand)
	if p.opts.daemon {
		q.flags |= flagDaemon
	}
	if p.opts.noWatchPipe {
		q.flags |= flagNoWatchPipe
	}
	return q
}

// startable says why the process cannot start now, or returns its encoded
// argument. Called with p.mu held.
func (p *Process[R]) startable(ctx context.Context) ([]byte, error) {
	switch p.state {
	case stateRunning:
		return nil, fmt.Errorf("start %s: %w", p.name, ErrStarted)
	case stateClosed:
		return nil, fmt.Errorf("start %s: %w", p.name, ErrClosed)
	}
	if p.arg == nil {
		return nil, fmt.Errorf("start process: not made by Func.New or Func.Start: %w", ErrNotRegistered)
	}
	if p.ferr != nil {
		return nil, fmt.Errorf("start child: %w", p.ferr)
	}
	if !mainCalled.Load() {
		return nil, fmt.Errorf("start %s: call spawn.Main() first thing in main (or TestMain): %w", p.fn, ErrNoMain)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.fn, err)
	}
	argBytes, files, owned, err := p.arg()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", p.fn, err)
	}
	p.files, p.owned = files, owned
	regions, err := p.shares()
	if err != nil {
		closeAll(p.owned)
		return nil, fmt.Errorf("start %s: %w", p.fn, err)
	}
	for _, r := range regions {
		if r == nil || r.File() == nil || r.Raw() {
			closeAll(p.owned)
			return nil, fmt.Errorf("start %s: cannot share %v: only regions with a forkless header travel", p.fn, r)
		}
	}
	p.regions = regions
	return argBytes, nil
}

// command is the child's command: this binary, marked as a child by its
// token, with the request and response pipes as fds 3 and 4 and the
// regions after them.
func (p *Process[R]) command(exe string, token [tokenLen]byte, reqR, respW *os.File) *exec.Cmd {
	cmd := exec.Command(exe)
	cmd.Args = []string{os.Args[0]}
	cmd.Env = append(append(os.Environ(), p.opts.env...), envChild+"="+hex.EncodeToString(token[:]))
	cmd.Stdout, cmd.Stderr = p.outputs()
	if _, ok := cmd.Stdout.(*os.File); !ok {
		cmd.WaitDelay = 2 * time.Second // a grandchild holding the pipe cannot stall Wait
	} else if _, ok := cmd.Stderr.(*os.File); !ok {
		cmd.WaitDelay = 2 * time.Second
	}
	cmd.ExtraFiles = []*os.File{reqR, respW}
	for _, r := range p.regions {
		cmd.ExtraFiles = append(cmd.ExtraFiles, r.File())
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, p.files...)
	cmd.SysProcAttr = sysProcAttr(!p.opts.noPdeathsig)
	return cmd
}

func (p *Process[R]) getState() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Name returns the process's name.
func (p *Process[R]) Name() string { return p.name }

// Func returns the name of the function the process runs.
func (p *Process[R]) Func() string { return p.fn }

// Daemon reports whether the process was started with the Daemon option.
func (p *Process[R]) Daemon() bool { return p.opts.daemon }

// Pid returns the child's process id, or 0 before Start.
func (p *Process[R]) Pid() int { return int(p.pid.Load()) }

// Alive reports whether the child has started and not yet exited.
func (p *Process[R]) Alive() bool {
	if p.pid.Load() == 0 {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Wait waits for the child to exit and returns its function's result. An
// error of the function comes back as a *ChildError, a child that died
// without a result as an *ExitError. When ctx ends first, Wait returns the
// context's error and the child runs on. Waiting on a process never started
// returns ErrNotStarted at once. Wait may be called any number of times.
func (p *Process[R]) Wait(ctx context.Context) (R, error) {
	var zero R
	if p.pid.Load() == 0 {
		if p.getState() == stateClosed {
			return zero, fmt.Errorf("wait for %s: %w", p.name, ErrClosed)
		}
		return zero, fmt.Errorf("wait for %s: %w", p.name, ErrNotStarted)
	}
	select {
	case <-p.done:
		return p.result, p.err
	case <-ctx.Done():
		return zero, fmt.Errorf("wait for child %d: %w", p.Pid(), ctx.Err())
	}
}

// Done returns a channel closed when the child has exited and its result is
// in. It is Python's Process.sentinel.
func (p *Process[R]) Done() <-chan struct{} { return p.done }

// Ready is Done, for WaitAny.
func (p *Process[R]) Ready() <-chan struct{} { return p.done }

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

// Terminate sends the child SIGTERM. The child's function sees its context
// cancelled; whatever it returns still comes back through Wait, and the
// exit code is then -15, as if the signal had killed it. A function that
// ignores its context is cut short after a grace (TerminateGrace, by
// default DefaultTerminateGrace): the child dies of the SIGTERM, as
// Python's terminate ends the process, so `p.Terminate(); p.Wait(ctx)`
// always returns (an *ExitError, exit code -15). A second SIGTERM kills at
// once. Terminating a child that
// already exited does nothing and returns nil (a child may exit just before
// the signal is sent; that race must not make Terminate fail at random);
// the signal can never reach another process that reused the pid.
func (p *Process[R]) Terminate() error { return p.signal(syscall.SIGTERM, "terminate") }

// Kill ends the child with SIGKILL. Like Terminate, killing a child that
// already exited does nothing and returns nil.
func (p *Process[R]) Kill() error { return p.signal(syscall.SIGKILL, "kill") }

func (p *Process[R]) signal(sig os.Signal, verb string) error {
	p.mu.Lock()
	state, cmd := p.state, p.cmd
	p.mu.Unlock()
	switch {
	case state == stateClosed:
		return fmt.Errorf("%s %s: %w", verb, p.name, ErrClosed)
	case cmd == nil:
		return fmt.Errorf("%s %s: %w", verb, p.name, ErrNotStarted)
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	// os.Process signals through a pidfd when it has one, so a pid reused
	// after the reap is never hit.
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s child %d: %w", verb, cmd.Process.Pid, err)
	}
	logger().Debug("forkless/spawn: signalled", "name", p.name, "pid", cmd.Process.Pid, "signal", sig)
	return nil
}

// Stop terminates the child and, if it has not exited after grace, kills
// it; it returns once the child is gone.
func (p *Process[R]) Stop(grace time.Duration) error {
	if err := p.Terminate(); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	if err := p.Kill(); err != nil {
		return err
	}
	<-p.done
	return nil
}

// Close releases the process. A child still running is killed first and
// reaped, so Close never leaves a zombie or an orphan. After Close, Start,
// Terminate and Kill return ErrClosed; Wait and ExitCode still report how
// the child ended. Closing twice is not an error.
func (p *Process[R]) Close() error {
	p.mu.Lock()
	state, cmd := p.state, p.cmd
	p.state = stateClosed
	p.mu.Unlock()
	if state == stateRunning {
		cmd.Process.Kill()
		<-p.done
	}
	return nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
