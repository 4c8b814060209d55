package queue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// qRegionClosedFirst is the bystander of TestPipeRegionClosedBeforePeerExit:
// it receives from a child over a pipe, closes the pipe's region without
// closing its end, then kills the child and waits until its end's peer
// watch has run its exit callback. It must return, not fault.
var qRegionClosedFirst = spawn.Register("queue.qRegionClosedFirst", func(ctx context.Context, _ struct{}) (string, error) {
	r, err := shm.New(1 << 20)
	if err != nil {
		return "", err
	}
	a, b, err := queue.NewPipe(r, queue.Config{Bytes: 4096}, true)
	if err != nil {
		return "", err
	}
	p, err := qPipeSleeper.Start(ctx, b.Handle(), spawn.Share(r))
	if err != nil {
		return "", err
	}
	defer p.Kill() //nolint:errcheck // ends the child on an early return
	if m, err := a.Recv(ctx); err != nil || string(m) != "hello" {
		return "", fmt.Errorf("recv: %q, %v", m, err)
	}
	// A wait that sleeps: the end now watches the child's exit.
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = a.Recv(wctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		return "", fmt.Errorf("recv from a silent peer: %v", err)
	}
	if err := r.Close(); err != nil { // the end stays open: the user's slip
		return "", err
	}
	if err := p.Kill(); err != nil {
		return "", err
	}
	p.Wait(ctx) //nolint:errcheck // killed
	for !queue.PeerExitSeen(a) {
		if ctx.Err() != nil {
			return "", fmt.Errorf("the exit callback never ran: %w", ctx.Err())
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	return "survived", nil
})

// TestPipeRegionClosedBeforePeerExit: a pipe end never closed whose region
// was closed first does not fault its process when the peer exits later
// (the peer watch's exit callback used to notify the ring's event words in
// the unmapped region: SIGSEGV).
func TestPipeRegionClosedBeforePeerExit(t *testing.T) {
	ctx := qCtx(t)
	got, err := qRegionClosedFirst.Run(ctx, struct{}{})
	if err != nil || got != "survived" {
		t.Fatalf("bystander: %q, %v", got, err)
	}
}
