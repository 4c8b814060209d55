package spawn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/forkless-go/forkless/internal/fds"
	"github.com/forkless-go/forkless/internal/registry"
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
)

// envChild marks a re-executed child. Its value is the child's token, in
// hex, which the request on fd 3 must start with (protocol.go).
const envChild = "FORKLESS_SPAWN_CHILD"

// markerWait bounds how long a marked process waits for the header of its
// request. The parent wrote it before the start, so a real child finds it
// at once; only a process whose variable leaked waits, this long at most.
const markerWait = 100 * time.Millisecond

// Exit codes of a child that could not run its function at all.
const (
	exitOK         = 0
	exitFuncError  = 1
	exitPanic      = 2
	exitBadRequest = 70 // EX_SOFTWARE: the request could not be read or served
	exitParentGone = 71
)

// Main turns a process started by Start into the worker it was started to
// be: it runs the requested function and exits, never returning. In any other
// process it returns at once. Call it first thing in main, and in TestMain
// for tests that start children:
//
//	func main() {
//		spawn.Main()
//		...
//	}
//
// It is the counterpart of Python's `if __name__ == "__main__":` guard.
// Functions must be registered (at package scope) before Main runs.
func Main() {
	mainCalled.Store(true)
	marker := os.Getenv(envChild)
	if marker == "" {
		return
	}
	// Grandchildren are started by this process's own Start, not by this
	// marker.
	os.Unsetenv(envChild)
	os.Exit(runChild(marker))
}

// watchDelay is how long a child's function runs before the child starts
// watching for SIGTERM and for its parent's death. A short function never
// pays for the watchers (about a tenth of a start's CPU: signal.Notify parks a
// thread in the runtime's signal loop, and every new goroutine wakes
// scheduler threads). Until then a SIGTERM kills the child outright, as it
// does in Python, and Pdeathsig alone guards against orphaning.
const watchDelay = 5 * time.Millisecond

// onWatching runs in a child as soon as its SIGTERM watcher is installed,
// that is once a SIGTERM cancels the function's context instead of killing
// the process. Tests set it (export_test.go) to wait for that moment.
var onWatching = func() {}

func runChild(marker string) int {
	q, e, br, resp, code := prepare(marker)
	if e == nil {
		return code
	}

	// Once watching, the first SIGTERM cancels the function's context; the
	// default action is then restored, so a second SIGTERM kills a function
	// that ignores its context, and so does the first one's own repeat
	// after the grace: Python's terminate ends the process, and so does
	// this one, giving the function q.termGrace to return its result.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var terminated atomic.Bool
	sigs := make(chan os.Signal, 1)
	onTerm := func() {
		terminated.Store(true)
		signal.Reset(syscall.SIGTERM)
		cancel()
		time.AfterFunc(q.termGrace, raiseTerm)
	}

	// The parent holds the request pipe open while it lives. EOF there means
	// it died: exit rather than orphan ourselves. This backs Pdeathsig, which
	// a parent's thread can defeat (see sys_linux.go); either alone suffices.
	watchPipe := sync.OnceFunc(func() {
		if q.flags&flagNoWatchPipe == 0 {
			go func() {
				io.Copy(io.Discard, br)
				logger().Warn("forkless/spawn: parent gone, exiting", "pid", os.Getpid())
				os.Exit(exitParentGone)
			}()
		}
	})
	watchers := time.AfterFunc(watchDelay, func() {
		signal.Notify(sigs, syscall.SIGTERM)
		onWatching()
		watchPipe()
		<-sigs
		onTerm()
	})

	if _, err := resp.Write([]byte(attachedMagic)); err != nil {
		return exitParentGone
	}
	p, code := call(ctx, e, q.arg)
	watchers.Stop()
	select {
	case <-sigs: // a SIGTERM the watcher had no time to act on
		onTerm()
	default:
	}
	if _, err := resp.Write(p.marshal()); err != nil {
		return exitParentGone
	}
	resp.Close()
	// Python's rule at a child's exit: terminate daemon children, wait for
	// the others, which may take long: watch the parent meanwhile.
	if len(ActiveChildren()) > 0 {
		watchPipe()
	}
	Shutdown(context.Background())
	if terminated.Load() {
		// Die of the signal, so that the parent reads -15 as it would
		// from a child that did not catch it.
		raiseTerm()
		time.Sleep(time.Second)
	}
	return code
}

// prepare reads the request on the child's pipes, attaches the shared
// regions and finds the function. When it cannot (e is nil), code is the
// exit code, and the parent was told why when it could be.
func prepare(marker string) (q request, e *registry.Entry, br *bufio.Reader, resp *os.File, code int) {
	header, err := checkMarker(marker)
	if err != nil {
		// Not a child: the variable leaked into a program's environment
		// (fd 3 is closed, silent or something else). Running main instead
		// could start the program's own children, each of which would find
		// the same leak; say so and stop.
		fmt.Fprintf(os.Stderr, "forkless/spawn: %s is set, but this process was not started by spawn "+
			"(%v): the variable leaked into its environment; unset it\n", envChild, err)
		return q, nil, nil, nil, exitBadRequest
	}
	// The pipes stay blocking: reading the request and writing the answer
	// are single system calls, and the runtime's poller is never started.
	req := os.NewFile(fdRequest, "forkless-request")
	resp = os.NewFile(fdResponse, "forkless-response")
	// Inherited descriptors are not close-on-exec; make them so, or every
	// grandchild would inherit them.
	closeOnExec(fdRequest)
	closeOnExec(fdResponse)

	br = bufio.NewReader(io.MultiReader(bytes.NewReader(header), req))
	q, err = readRequest(br)
	if err != nil {
		fmt.Fprintf(os.Stderr, "forkless/spawn: %v\n", err)
		return q, nil, nil, nil, exitBadRequest
	}
	// A child gets only the descriptors it was given, as Python's do: the
	// parent's descriptors without close-on-exec came along with the exec
	// (Go cannot close them between fork and exec), and would reach every
	// grandchild too. Everything this process opened itself is
	// close-on-exec, and so are fds 3 and 4 by now; the regions are below
	// first.
	if err := fds.CloseInherited(fdFirstRegion + q.nRegions + q.nFiles + logFds(q)); err != nil {
		logger().Debug("forkless/spawn: close inherited descriptors", "err", err)
	}
	fail := func(status byte, format string, args ...any) (request, *registry.Entry, *bufio.Reader, *os.File, int) {
		msg := fmt.Sprintf(format, args...)
		resp.Write(response{status: status, err: wire.ErrorBody{Message: msg}}.marshal())
		return q, nil, nil, nil, exitBadRequest
	}
	for i := range q.nRegions {
		fd := fdFirstRegion + i
		closeOnExec(fd)
		if _, err := shm.Attach(os.NewFile(uintptr(fd), "forkless-region")); err != nil {
			return fail(statusSetup, "attach shared region %d: %v", i, err)
		}
	}
	files := make([]*os.File, q.nFiles)
	for i := range files {
		fd := fdFirstRegion + q.nRegions + i
		closeOnExec(fd)
		files[i] = os.NewFile(uintptr(fd), "forkless-argument")
	}
	wire.SetInherited(files)
	if q.flags&flagLogs != 0 {
		fd := fdFirstRegion + q.nRegions + q.nFiles
		closeOnExec(fd)
		forwardLogs(os.NewFile(uintptr(fd), "forkless-log"), q)
	}
	e, ok := lookup(q.fn)
	if !ok {
		return fail(statusNotRegistered, "function %s is not registered in the child: register it at "+
			"package scope, before spawn.Main runs", q.fn)
	}
	setSelf(q)
	return q, e, br, resp, exitOK
}

// checkMarker reads the request's header from fd 3, waiting markerWait at
// most, and checks that it carries the token the marker names. It returns
// the header, to be parsed again with the rest of the request.
func checkMarker(marker string) ([]byte, error) {
	token, err := hex.DecodeString(marker)
	if err != nil || len(token) != tokenLen {
		return nil, fmt.Errorf("its value %.40q is not a spawn token", marker)
	}
	header, err := fds.ReadNow(fdRequest, headerLen, markerWait)
	switch {
	case err != nil:
		return nil, fmt.Errorf("no request on fd 3: %w", err)
	case string(header[:len(requestMagic)]) != requestMagic:
		return nil, fmt.Errorf("fd 3 does not carry a request")
	case header[len(requestMagic)] != protocolVersion:
		return nil, fmt.Errorf("request of protocol version %d, want %d", header[len(requestMagic)], protocolVersion)
	case !bytes.Equal(header[len(requestMagic)+1:], token):
		return nil, fmt.Errorf("the request on fd 3 is for another process")
	}
	return header, nil
}

// call runs the function, turning a panic into a response with the stack.
func call(ctx context.Context, e *registry.Entry, arg []byte) (p response, code int) {
	defer func() {
		if v := recover(); v != nil {
			p = response{status: statusPanic, err: wire.PanicBody(v, debug.Stack())}
			code = exitPanic
		}
	}()
	out, err := e.Run(ctx, arg)
	if err != nil {
		return response{status: statusError, err: wire.BodyOf(withHint(err))}, exitFuncError
	}
	return response{status: statusOK, result: out}, exitOK
}

// withHint adds to err what to do when it is a handle bound in this child
// whose region the parent did not share: the bare "region not attached in
// this process" does not say.
func withHint(err error) error {
	if errors.Is(err, shm.ErrNotAttached) {
		return fmt.Errorf("%w (hint: the parent did not share that region with this child: pass the "+
			"object itself in the argument, which shares its region, or add spawn.Share(region) to Start)", err)
	}
	return err
}
