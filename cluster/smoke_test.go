package cluster_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/cluster"
	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

func TestSmokeInProcess(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	s := startServer(t)
	serveHere(t, s.URL(), cluster.InProcess(), cluster.Workers(2), cluster.Name("here"))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(1))
	in := make([]int, 1000)
	for i := range in {
		in[i] = i
	}
	out, err := pool.Map(ctx, ex, square, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	v, err := pool.Apply(ctx, ex, square, 12)
	if err != nil || v != 144 {
		t.Fatalf("Apply: %v %v", v, err)
	}
	_, err = pool.Map(ctx, ex, panicky, []int{1, 7, 13, 4}, pool.Chunk(4))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 2 {
		t.Fatalf("Map panicky: %v", err)
	}
	t.Logf("%v", me.Failed)
	var ne *cluster.NodeError
	if !errors.As(me.Failed[0], &ne) || ne.Node != "here" || !errors.Is(me.Failed[0], cluster.ErrDeliveryLimit) {
		t.Errorf("item 7: %v", me.Failed[0])
	}
	var ce *spawn.ChildError
	if !errors.Is(me.Failed[1], os.ErrInvalid) || !errors.As(me.Failed[1], &ce) {
		t.Errorf("item 13: %v", me.Failed[1])
	}
	t.Logf("stats %+v", ex.Stats())
}
