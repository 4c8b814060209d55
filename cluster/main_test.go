package cluster_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/cluster"
	"github.com/forkless-go/forkless/spawn"
)

func TestMain(m *testing.M) {
	spawn.Main()
	os.Exit(m.Run())
}

var square = spawn.Register("cluster_test.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

// panicky panics on 7 and returns an error on 13.
var panicky = spawn.Register("cluster_test.panicky", func(ctx context.Context, x int) (int, error) {
	switch x {
	case 7:
		panic("seven")
	case 13:
		return 0, fmt.Errorf("thirteen: %w", os.ErrInvalid)
	}
	return x, nil
})

// testCtx is a context that ends with the test, or after d.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts an embedded server storing in a temporary directory.
func startServer(t testing.TB) *cluster.Server {
	s, err := cluster.StartServer("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// dial makes an executor on url and closes it with the test.
func dial(t testing.TB, ctx context.Context, opts ...cluster.Option) *cluster.Executor {
	ex, err := cluster.Dial(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close(context.Background()) })
	return ex
}

// serveHere runs an in-process node on url until the test ends.
func serveHere(t testing.TB, url string, opts ...cluster.Option) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cluster.Serve(ctx, append([]cluster.Option{cluster.URL(url)}, opts...)...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// startNodes starts n node processes on url, stopped with the test.
func startNodes(t testing.TB, ctx context.Context, url, prefix string, n int, opts ...cluster.Option) []*spawn.Process[struct{}] {
	var ps []*spawn.Process[struct{}]
	for i := range n {
		o := append([]cluster.Option{cluster.Name(fmt.Sprintf("%s-%d", prefix, i+1))}, opts...)
		p, err := cluster.StartNode(ctx, url, o...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.Stop(5 * time.Second)
			p.Close()
		})
		ps = append(ps, p)
	}
	return ps
}

// slow sleeps d (its context may cut it short) and returns its process id
// and x squared.
var slow = spawn.Register("cluster_test.slow", func(ctx context.Context, a slowArg) (slowOut, error) {
	select {
	case <-time.After(a.D):
	case <-ctx.Done():
		return slowOut{}, ctx.Err()
	}
	return slowOut{Pid: os.Getpid(), Sq: a.X * a.X}, nil
})

type slowArg struct {
	X int
	D time.Duration
}

type slowOut struct {
	Pid int
	Sq  int
}

func slowItems(n int, d time.Duration) []slowArg {
	in := make([]slowArg, n)
	for i := range in {
		in[i] = slowArg{X: i, D: d}
	}
	return in
}

// checkSlow checks that out holds every item's square, in order.
func checkSlow(t testing.TB, out []slowOut) map[int]int {
	t.Helper()
	pids := map[int]int{}
	for i, o := range out {
		if o.Sq != i*i || o.Pid == 0 {
			t.Fatalf("item %d: %+v", i, o)
		}
		pids[o.Pid]++
	}
	return pids
}

// waitDone waits until the executor has delivered at least n items.
func waitDone(t testing.TB, ctx context.Context, ex *cluster.Executor, n int64) {
	t.Helper()
	for p := ex.Progress(); ; {
		select {
		case s := <-p:
			if s.Done >= n {
				return
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %d items done: %v (%+v)", n, ctx.Err(), ex.Stats())
		}
	}
}
