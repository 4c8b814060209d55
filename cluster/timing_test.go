package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/forkless-go/forkless/cluster"
	"github.com/forkless-go/forkless/pool"
)

// A chunk that runs longer than the ack wait is heartbeated: it is not
// given to another node, and runs once.
func TestLongChunkHeartbeats(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	s := startServer(t)
	serveHere(t, s.URL(), cluster.InProcess(), cluster.Workers(1), cluster.AckWait(500*time.Millisecond), cluster.Name("hb-1"))
	serveHere(t, s.URL(), cluster.InProcess(), cluster.Workers(1), cluster.AckWait(500*time.Millisecond), cluster.Name("hb-2"))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(2))
	path := filepath.Join(t.TempDir(), "marks")
	t0 := time.Now()
	if _, err := pool.Map(ctx, ex, mark, []markArg{{Path: path, X: 1, D: 2 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("map took %v", time.Since(t0))
	if n := marks(t, path); n != 1 || ex.Stats().Retried != 0 {
		t.Fatalf("the 2 s item started %d times with a 0.5 s ack wait; stats %+v", n, ex.Stats())
	}
}

// Items whose deadline (JobTimeout) passed before a node took them fail
// with ErrDeadline.
func TestJobTimeout(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	s := startServer(t)
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.JobTimeout(100*time.Millisecond))
	f := pool.Submit(ex, square, 3)
	time.Sleep(200 * time.Millisecond) // no node yet: the deadline passes in the stream
	serveHere(t, s.URL(), cluster.InProcess(), cluster.Workers(1))
	if _, err := f.Wait(ctx); !errors.Is(err, cluster.ErrDeadline) {
		t.Fatalf("Submit = %v, want ErrDeadline", err)
	}
}

// lostCancel is an executor whose cancellations never reach the cluster:
// as if the caller's process died, or its cancel message and purge were
// lost, before its context's deadline.
type lostCancel struct{ *cluster.Executor }

func (lostCancel) CancelJob(*pool.Job) {}

// The caller's context's deadline goes on the wire: a chunk whose caller
// gave up at its deadline, and whose cancellation never arrived, is not
// run by a node that takes it afterwards.
func TestCallersDeadlineTravels(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	s := startServer(t)
	ex := lostCancel{dial(t, ctx, cluster.URL(s.URL()))}
	dir := t.TempDir()
	late, later := filepath.Join(dir, "late"), filepath.Join(dir, "later")
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := pool.Apply(short, ex, mark, markArg{Path: late}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Apply with no node = %v, want the deadline", err)
	}
	serveHere(t, s.URL(), cluster.InProcess(), cluster.Workers(1))
	// A later item, in the stream after the late one: once it has run, the
	// node has taken the late one too.
	if _, err := pool.Apply(ctx, ex, mark, markArg{Path: later}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(late); err == nil {
		t.Fatalf("an item whose caller's deadline had passed ran (%d marks)", marks(t, late))
	}
}
