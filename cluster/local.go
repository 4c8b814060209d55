package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// nodeSpec is what a local node process is started with.
type nodeSpec struct {
	URL, Prefix, Name string
	Workers           int
	InProcess         bool
	AckWait           time.Duration
	MaxDeliver        int
	Backoff           []time.Duration
}

// nodeMain is a local node process: Serve until the parent stops it.
var nodeMain = spawn.Register("cluster.node", func(ctx context.Context, s nodeSpec) (struct{}, error) {
	opts := []Option{URL(s.URL), Prefix(s.Prefix), Name(s.Name), Workers(s.Workers), AckWait(s.AckWait), MaxDeliver(s.MaxDeliver)}
	if s.InProcess {
		opts = append(opts, InProcess())
	}
	if len(s.Backoff) > 0 {
		opts = append(opts, Backoff(s.Backoff...))
	}
	return struct{}{}, Serve(ctx, opts...)
})

// StartNode starts a node process on this machine (the running binary
// again, through spawn: the program calls spawn.Main first) serving the
// cluster at url with opts (Workers, InProcess, AckWait, MaxDeliver,
// Backoff, Name, Prefix). Stop it with its Stop, or Kill it. LocalNodes
// does this for Dial.
func StartNode(ctx context.Context, url string, opts ...Option) (*spawn.Process[struct{}], error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.workers <= 0 {
		cfg.workers = max(spawn.CPUCount()/2, 1)
	}
	s := nodeSpec{URL: url, Prefix: cfg.prefix, Name: cfg.name, Workers: cfg.workers, InProcess: cfg.inProcess,
		AckWait: cfg.ackWait, MaxDeliver: cfg.maxDeliver, Backoff: cfg.backoff}
	p, err := nodeMain.Start(ctx, s, spawn.Name("cluster node "+cfg.name))
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	return p, nil
}

// startLocal starts the nodes of LocalNodes.
func (e *Executor) startLocal(ctx context.Context, url string) error {
	for i := range e.cfg.localNodes {
		opts := append([]Option{Prefix(e.cfg.prefix), Name(fmt.Sprintf("local-%d", i+1))}, e.cfg.nodeOpts...)
		p, err := StartNode(ctx, url, opts...)
		if err != nil {
			return err
		}
		e.local = append(e.local, p)
	}
	return nil
}

// stopLocal stops the local nodes: SIGTERM (Serve hands its chunks back),
// then SIGKILL after 5s or when ctx ends.
func (e *Executor) stopLocal(ctx context.Context) {
	for _, p := range e.local {
		p.Terminate()
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for _, p := range e.local {
		select {
		case <-p.Done():
		case <-t.C:
		case <-ctx.Done():
		}
		p.Close()
	}
}
