package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

var double = spawn.Register("cluster.test.double", func(ctx context.Context, x int) (int, error) { return 2 * x, nil })

// A node that cannot read a chunk (another wire version) or lacks its
// function answers with an error for every item; the chunk is terminated
// and the caller's map ends, never hangs.
func TestRejects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := StartServer("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	ex, err := Dial(ctx, URL(s.URL()), Prefix("rj"))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close(context.Background())
	cases := []struct {
		name   string
		mutate func(m *nats.Msg)
		want   error
	}{
		{"version", func(m *nats.Msg) { m.Header.Set(hdrWire, "2") }, ErrWireVersion},
		{"body version", func(m *nats.Msg) { m.Data[0] = WireVersion + 1 }, ErrWireVersion},
		{"malformed", func(m *nats.Msg) { m.Data = m.Data[:len(m.Data)-1] }, ErrMalformed},
		{"unknown function", func(m *nats.Msg) {
			c, err := parseChunk(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			c.Func = "cluster.test.nope"
			m.Data = appendChunk(nil, c)
		}, spawn.ErrNotRegistered},
	}
	for _, tc := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := pool.Map(ctx, ex, double, []int{1, 2, 3}, pool.Chunk(3))
			done <- err
		}()
		intercept(t, ctx, ex, tc.mutate)
		nctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- Serve(nctx, URL(s.URL()), Prefix("rj"), InProcess(), Workers(1), Name("rj-node")) }()
		err := <-done
		stop()
		if serr := <-served; serr != nil {
			t.Fatal(serr)
		}
		var me *pool.MapError
		var ne *NodeError
		if !errors.As(err, &me) || len(me.Failed) != 3 || !errors.Is(err, tc.want) || !errors.As(err, &ne) || ne.Node != "rj-node" {
			t.Fatalf("%s: Map = %v, want 3 items failed with %v on rj-node", tc.name, err, tc.want)
		}
		t.Logf("%s: %v", tc.name, me.Failed[0])
		// The node deletes the terminated chunk after it answered.
		for si, err := ex.work.Info(ctx); err != nil || si.State.Msgs != 0; si, err = ex.work.Info(ctx) {
			if ctx.Err() != nil {
				if si == nil {
					t.Fatalf("%s: the work stream's state: %v", tc.name, err)
				}
				t.Fatalf("%s: the work stream holds %+v (%v)", tc.name, si.State, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// intercept takes the next chunk from the work stream, as a node would,
// and puts back a copy changed by mutate.
func intercept(t *testing.T, ctx context.Context, ex *Executor, mutate func(*nats.Msg)) {
	cons, err := ex.work.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: ex.n.consumer, FilterSubject: ex.n.work + ".>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	m := &nats.Msg{Subject: msg.Subject(), Header: nats.Header{}, Data: append([]byte(nil), msg.Data()...)}
	for k, v := range msg.Headers() {
		m.Header[k] = v
	}
	m.Header.Set(jetstream.MsgIDHeader, m.Header.Get(jetstream.MsgIDHeader)+".test")
	mutate(m)
	if _, err := ex.js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := msg.Ack(); err != nil {
		t.Fatal(err)
	}
}
