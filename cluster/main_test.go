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
