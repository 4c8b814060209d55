package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/forkless-go/forkless/cluster"
	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// Three node processes map 100k items: every result comes back, in order.
func TestMap100kInOrder(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	s := startServer(t)
	startNodes(t, ctx, s.URL(), "n", 3, cluster.InProcess(), cluster.Workers(1))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(3))
	in := make([]int, 100_000)
	for i := range in {
		in[i] = i
	}
	out, err := pool.Map(ctx, ex, square, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d, want %d", i, v, i*i)
		}
	}
	st := ex.Stats()
	if st.Submitted != 100_000 || st.Done != 100_000 || st.Finished != 100_000 || st.Queued != 0 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
	// The other calls of the pool run unchanged.
	var got []int
	for v, err := range pool.Imap(ctx, ex, square, slices.Values(in[:300]), pool.Chunk(7)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 300 || got[299] != 299*299 {
		t.Fatalf("Imap: %d results", len(got))
	}
	n := 0
	for _, err := range pool.ImapUnordered(ctx, ex, square, slices.Values(in[:100])) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if v, err := pool.Submit(ex, square, 9).Wait(ctx); n != 100 || err != nil || v != 81 {
		t.Fatalf("ImapUnordered %d, Submit %v %v", n, v, err)
	}
}

// A node SIGKILLed mid-map: its chunks go to the others after the ack
// wait, and every item is in the result exactly once.
func TestNodeKilledMidMap(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	s := startServer(t)
	nodes := startNodes(t, ctx, s.URL(), "k", 3, cluster.InProcess(), cluster.Workers(2), cluster.AckWait(time.Second))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(3))
	done := make(chan struct{})
	var out []slowOut
	var err error
	go func() {
		defer close(done)
		out, err = pool.Map(ctx, ex, slow, slowItems(3000, time.Millisecond), pool.Chunk(50))
	}()
	waitDone(t, ctx, ex, 600)
	if err := nodes[0].Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	if err != nil {
		t.Fatal(err)
	}
	pids := checkSlow(t, out)
	st := ex.Stats()
	t.Logf("items per node pid: %v; stats %+v", pids, st)
	if st.Done != 3000 || st.Retried == 0 {
		t.Errorf("stats %+v: want 3000 done and some retried", st)
	}
}

// A node started after the map began takes part of it.
func TestLateNodeJoins(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	s := startServer(t)
	startNodes(t, ctx, s.URL(), "early", 1, cluster.InProcess(), cluster.Workers(1))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(1))
	done := make(chan struct{})
	var out []slowOut
	var err error
	go func() {
		defer close(done)
		out, err = pool.Map(ctx, ex, slow, slowItems(2000, time.Millisecond), pool.Chunk(20))
	}()
	waitDone(t, ctx, ex, 100)
	late := startNodes(t, ctx, s.URL(), "late", 1, cluster.InProcess(), cluster.Workers(1))
	<-done
	if err != nil {
		t.Fatal(err)
	}
	pids := checkSlow(t, out)
	t.Logf("items per node pid: %v (late node %d)", pids, late[0].Pid())
	if pids[late[0].Pid()] == 0 {
		t.Errorf("the late node ran nothing: %v", pids)
	}
}

// crashy kills its own process on 5.
var crashy = spawn.Register("cluster_test.crashy", func(ctx context.Context, x int) (int, error) {
	if x == 5 {
		os.Exit(3)
	}
	return x, nil
})

// Items that panic or kill their worker fail after the delivery limit with
// an error naming the node and the function; the map goes on.
func TestFailuresAfterDeliveryLimit(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	s := startServer(t)
	startNodes(t, ctx, s.URL(), "p", 3, cluster.Workers(1), cluster.MaxDeliver(3))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(3))
	in := make([]int, 100)
	for i := range in {
		in[i] = i
	}
	for _, f := range []*spawn.Func[int, int]{panicky, crashy} {
		out, err := pool.Map(ctx, ex, f, in, pool.Chunk(10))
		var me *pool.MapError
		if !errors.As(err, &me) {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		bad := map[int]bool{7: true, 13: true}
		if f == crashy {
			bad = map[int]bool{5: true}
		}
		if len(me.Failed) != len(bad) {
			t.Fatalf("%s: %v", f.Name(), me.Failed)
		}
		for _, fe := range me.Failed {
			var ne *cluster.NodeError
			if !bad[fe.Index] || !errors.As(fe, &ne) || !strings.HasPrefix(ne.Node, "p-") || ne.Func != f.Name() {
				t.Errorf("%s: item %d: %v", f.Name(), fe.Index, fe)
			}
			if fe.Index != 13 && (!errors.Is(fe, cluster.ErrDeliveryLimit) || ne.Attempts != 3) {
				t.Errorf("%s: item %d: %v, want the delivery limit after 3", f.Name(), fe.Index, fe)
			}
			t.Logf("%s: %v", f.Name(), fe)
		}
		for i, v := range out {
			if !bad[i] && v != i {
				t.Fatalf("%s: out[%d] = %d", f.Name(), i, v)
			}
		}
	}
	if st := ex.Stats(); st.Failed != 3 || st.Done != 197 {
		t.Errorf("stats %+v", st)
	}
}

// mark appends its item to a file when it starts, then sleeps.
var mark = spawn.Register("cluster_test.mark", func(ctx context.Context, a markArg) (int, error) {
	f, err := os.OpenFile(a.Path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	f.WriteString("x\n")
	f.Close()
	select {
	case <-time.After(a.D):
	case <-ctx.Done():
	}
	return a.X, nil
})

type markArg struct {
	Path string
	X    int
	D    time.Duration
}

// The caller cancels a map: nothing of it runs afterwards.
func TestCancelStopsTheWork(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	s := startServer(t)
	startNodes(t, ctx, s.URL(), "c", 3, cluster.InProcess(), cluster.Workers(2))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(3))
	path := filepath.Join(t.TempDir(), "marks")
	in := make([]markArg, 300)
	for i := range in {
		in[i] = markArg{Path: path, X: i, D: 20 * time.Millisecond}
	}
	mctx, cancel := context.WithCancel(ctx)
	go func() {
		waitDone(t, ctx, ex, 30)
		cancel()
	}()
	_, err := pool.Map(mctx, ex, mark, in, pool.Chunk(1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Map = %v, want cancelled", err)
	}
	quiet(t, ctx, s.URL())
	before := marks(t, path)
	// The nodes are alive and serve what comes next; none of the
	// cancelled items started meanwhile.
	if v, err := pool.Map(ctx, ex, square, []int{1, 2, 3, 4, 5, 6}, pool.Chunk(1)); err != nil || v[5] != 36 {
		t.Fatal(v, err)
	}
	quiet(t, ctx, s.URL())
	after := marks(t, path)
	t.Logf("%d of %d items started before the cancel; stats %+v", before, len(in), ex.Stats())
	if after != before || before >= len(in) {
		t.Errorf("items started: %d at the cancel, %d later", before, after)
	}
}

func marks(t testing.TB, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// quiet waits until the work stream is empty and no chunk is out at a node.
func quiet(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for {
		si, err1 := js.Stream(ctx, "FORKLESS_WORK")
		ci, err2 := js.Consumer(ctx, "FORKLESS_WORK", "FORKLESS_NODES")
		if err1 == nil && err2 == nil {
			info, err := ci.Info(ctx)
			if err == nil && si.CachedInfo().State.Msgs == 0 && info.NumAckPending == 0 && info.NumPending == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("work stream never emptied: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// The NATS server restarts mid-map (file storage): nothing is lost.
func TestServerRestartMidMap(t *testing.T) {
	ctx := testCtx(t, 100*time.Second)
	dir := t.TempDir()
	s, err := cluster.StartServer("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	addr, url := s.Addr(), s.URL()
	startNodes(t, ctx, url, "r", 3, cluster.InProcess(), cluster.Workers(2), cluster.AckWait(2*time.Second))
	ex := dial(t, ctx, cluster.URL(url), cluster.WaitNodes(3))
	done := make(chan struct{})
	var out []slowOut
	var merr error
	go func() {
		defer close(done)
		out, merr = pool.Map(ctx, ex, slow, slowItems(3000, time.Millisecond), pool.Chunk(50))
	}()
	waitDone(t, ctx, ex, 600)
	s.Shutdown()
	t.Logf("server down at %+v", ex.Stats())
	s2, err := cluster.StartServer(addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Shutdown)
	<-done
	if merr != nil {
		t.Fatal(merr)
	}
	checkSlow(t, out)
	t.Logf("stats %+v", ex.Stats())
}

// An item that kills its node each time (in-process nodes) fails once the
// delivery limit is reached, reported by the next node and naming the last
// node that ran it; the other items come back.
func TestItemKillingItsNode(t *testing.T) {
	ctx := testCtx(t, 90*time.Second)
	s := startServer(t)
	startNodes(t, ctx, s.URL(), "d", 3, cluster.InProcess(), cluster.Workers(1), cluster.MaxDeliver(2), cluster.AckWait(time.Second))
	ex := dial(t, ctx, cluster.URL(s.URL()), cluster.WaitNodes(3))
	out, err := pool.Map(ctx, ex, crashy, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, pool.Chunk(1))
	var me *pool.MapError
	var ne *cluster.NodeError
	if !errors.As(err, &me) || len(me.Failed) != 1 || me.Failed[0].Index != 5 || !errors.As(err, &ne) ||
		!errors.Is(err, cluster.ErrDeliveryLimit) || !strings.HasPrefix(ne.Node, "d-") || ne.Func != crashy.Name() ||
		!strings.Contains(err.Error(), "last run on node "+ne.Node+"; reported by node d-") {
		t.Fatalf("Map = %v, want item 5 failed at the delivery limit on a d- node", err)
	}
	t.Logf("%v", me.Failed[0])
	for i, v := range out {
		if i != 5 && v != i {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
}
