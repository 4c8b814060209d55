package spawn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/forkless-go/forkless/internal/event"
	"github.com/forkless-go/forkless/internal/wire"
)

// pipeGrace is how long the pipes from a child are still read after it
// has exited. Everything the child wrote is in them by then, so the grace
// is spent only when a descendant holds a copy of a write end (see reap).
const pipeGrace = time.Second

// reap collects the child's response, its log records and its exit status.
//
// A pipe reads EOF only when every copy of its write end is closed: the
// child's, and any copy a descendant holds. A grandchild forked but not yet
// exec'd has a copy of every descriptor; one that never execs (an
// emulator's fork that stalls, as qemu-user's did in CI) or that inherits
// the descriptors on purpose (syscall.ForkExec with every fd) holds them
// for good. So the pipes are read to EOF or until pipeGrace after the
// child's exit, whichever comes first, and a dead child is always reaped:
//
//  1. the child's exit is watched through its pidfd (event.OnExit: the
//     netpoller, no thread); where that cannot be had, a goroutine waits
//     for the exit in cmd.Wait;
//  2. at the exit, a read deadline pipeGrace ahead goes on the response
//     and log pipes: a read blocked on them wakes then, whoever holds a
//     write end;
//  3. what the child wrote before exiting was already in the pipe, so a
//     response or a log record is lost only if the child never wrote it.
//
// With the pidfd watch, cmd.Wait runs after the reads, when the child has
// exited (or is about to: its pipes closed): a waitid left blocking from
// the start was seen to miss the exit under qemu-user once in CI.
func (p *Process[R]) reap(respR, logR *os.File) {
	defer close(p.done)
	atExit := func() {
		deadline := time.Now().Add(pipeGrace)
		respR.SetReadDeadline(deadline) // after respR.Close below: ErrClosed, harmless
		if logR != nil {
			logR.SetReadDeadline(deadline)
		}
	}
	// waited is closed by the fallback waiter where there is no pidfd
	// watch; nil otherwise.
	var waited chan struct{}
	stop, gone, watchErr := event.OnExit(p.cmd.Process.Pid, func() bool { return true }, atExit)
	switch {
	case watchErr != nil:
		waited = make(chan struct{})
		go func() {
			defer close(waited)
			p.cmd.Wait() // its error says what ProcessState says
			atExit()
		}()
	case gone:
		atExit()
	}
	br := bufio.NewReader(respR)
	if m, err := br.Peek(len(attachedMagic)); err == nil && string(m) == attachedMagic {
		br.Discard(len(attachedMagic))
		p.attached.Store(true)
	}
	resp, respErr := readResponse(br)
	io.Copy(io.Discard, br) // until EOF or the deadline set at the exit
	respR.Close()
	if waited != nil {
		<-waited
	} else {
		p.cmd.Wait()
		if stop != nil {
			stop()
		}
	}
	<-p.logsDone // the child's last log record is handled before Wait returns
	p.mu.Lock()
	p.reqW.Close()
	p.flushOutputs()
	p.mu.Unlock()
	removeActive(p)
	p.exitCode = exitCode(p.cmd.ProcessState)
	pid := p.cmd.Process.Pid
	switch {
	case respErr != nil:
		// Whatever the status, even 0 (os.Exit(0) in the function): the
		// child died without a result.
		p.err = &ExitError{Pid: pid, Func: p.fn, Name: p.name, ExitCode: p.exitCode, Attached: p.attached.Load()}
	case resp.status == statusOK:
		if err := wire.Decode(p.codec, resp.result, &p.result); err != nil {
			p.err = fmt.Errorf("child %d: %s: decode result: %w", pid, p.fn, err)
		}
	case resp.status == statusNotRegistered:
		p.err = fmt.Errorf("child %d: %s: %s: %w", pid, p.fn, resp.err.Message, ErrNotRegistered)
	case resp.status == statusSetup:
		p.err = fmt.Errorf("child %d: %s: %s: %w", pid, p.fn, resp.err.Message, ErrSetup)
	default:
		p.err = childError(pid, p.fn, p.name, resp.err)
	}
	logger().Log(context.Background(), exitLevel(p.exitCode, resp.status, respErr), "forkless/spawn: exited",
		"name", p.name, "pid", pid, "exitcode", p.exitCode, "err", p.err)
}
