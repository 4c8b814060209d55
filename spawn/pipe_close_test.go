//go:build linux

package spawn_test

import (
	"context"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

var pipeEcho = spawn.Register("spawn.pipeEcho", func(ctx context.Context, conn *queue.Pipe) (string, error) {
	defer conn.Close()
	msg, err := conn.Recv(ctx)
	if err != nil {
		return "", err
	}
	return string(msg), conn.Send(ctx, append([]byte("echo "), msg...))
})

// TestCloseParentCopyOfChildEnd is Python's idiom
//
//	parent_conn, child_conn = Pipe()
//	p = Process(target=f, args=(child_conn,)); p.start()
//	child_conn.close()  # the parent's copy; the child's stays open
//
// across real processes: closing the parent's copy of the end it handed to
// the child, right after Start (before the child may even have bound it),
// leaves the child's end open, and the conversation goes on.
func TestCloseParentCopyOfChildEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := must(shm.New(1 << 20))
	defer r.Close()
	parentConn, childConn, err := queue.NewPipe(r, queue.Config{Bytes: 64 << 10}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer parentConn.Close() // before the region is unmapped
	p, err := pipeEcho.Start(ctx, childConn)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	childConn.Close()
	if err := parentConn.Send(ctx, []byte("ping")); err != nil {
		t.Fatalf("send after closing the parent's copy of the child's end: %v", err)
	}
	msg, err := parentConn.Recv(ctx)
	if err != nil || string(msg) != "echo ping" {
		t.Fatalf("recv: %q, %v", msg, err)
	}
	if got, err := p.Wait(ctx); err != nil || got != "ping" {
		t.Fatalf("child: %q, %v", got, err)
	}
	// The child closed its end: the parent hears it, as Python's recv
	// raises EOFError.
	if _, err := parentConn.Recv(ctx); err == nil {
		t.Fatal("recv after the child closed its end: no error")
	}
}
