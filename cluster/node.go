package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// Workers sets how many items a node (Serve) runs at once: the size of its
// pool, or its goroutines with InProcess. Default spawn.CPUCount().
func Workers(n int) Option { return func(c *config) { c.workers = n } }

// InProcess makes a node (Serve) run items in its own process through
// pool.RunEncoded on Workers goroutines, instead of on a pool of worker
// processes: cheaper, but an item that crashes the process takes the node
// down (its chunk is delivered again elsewhere, up to the limit).
func InProcess() Option { return func(c *config) { c.inProcess = true } }

// AckWait is how long the work stream waits for a node's word on a chunk
// before it gives the chunk to another node (default 30s). A node
// heartbeats the chunks it runs every AckWait/3, so only a dead or cut off
// node lets it run out.
func AckWait(d time.Duration) Option { return func(c *config) { c.ackWait = d } }

// MaxDeliver is the delivery limit of an item (default 3): an item that
// panics, kills its worker or its node that many times fails with
// ErrDeliveryLimit.
func MaxDeliver(n int) Option { return func(c *config) { c.maxDeliver = n } }

// Backoff sets the work consumer's redelivery delays after a missed ack
// (JetStream's BackOff; it replaces AckWait for each delivery).
func Backoff(d ...time.Duration) Option { return func(c *config) { c.backoff = d } }

// node is one Serve.
type node struct {
	cfg   config
	n     names
	name  string
	nc    *nats.Conn
	js    jetstream.JetStream
	work  jetstream.Stream
	limit int           // deliveries of an item before it fails
	beat  time.Duration // heartbeat period of a running chunk
	pool  *pool.Pool    // nil with InProcess
	// compute bounds the chunks whose items run at once; the loop holds
	// twice as many, so that one chunk's results are published and acked
	// while the next one runs.
	compute chan struct{}
	cx      cancels
}

// Serve runs a node until ctx ends: it takes chunks from the cluster's work
// stream (URL or Conn says where), runs their items on a local pool of
// worker processes (or in this process, InProcess), publishes the results
// and then acknowledges the chunk. It returns nil once ctx ends and its
// running chunks are handed back; an error if it cannot start or its
// connection closes.
func Serve(ctx context.Context, opts ...Option) error {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.url == "" && cfg.conn == nil {
		return errors.New("serve: no URL or Conn: a node needs the cluster's NATS server")
	}
	if cfg.workers <= 0 {
		cfg.workers = spawn.CPUCount()
	}
	if cfg.maxDeliver < 1 || cfg.ackWait <= 0 {
		return fmt.Errorf("serve: MaxDeliver %d, AckWait %v: want positive", cfg.maxDeliver, cfg.ackWait)
	}
	n, err := namesOf(cfg.prefix)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	nd := &node{cfg: cfg, n: n, name: cfg.name}
	if nd.name == "" {
		host, _ := os.Hostname()
		nd.name = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	nd.cx.init()
	cons, err := nd.open(ctx)
	if nd.nc != nil && cfg.conn == nil {
		defer nd.nc.Close()
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if !cfg.inProcess {
		p, err := pool.New(ctx, pool.Workers(cfg.workers))
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		nd.pool = p
		defer p.Terminate(context.Background())
	}
	sub, err := nd.nc.Subscribe(n.cancel, func(m *nats.Msg) { nd.cx.cancel(string(m.Data)) })
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer sub.Unsubscribe()
	var wg sync.WaitGroup
	wg.Go(func() { nd.hello(ctx) })
	err = nd.loop(ctx, cons)
	wg.Wait()
	return err
}

// open connects, makes the streams and the work consumer, and reads the
// consumer's limits.
func (nd *node) open(ctx context.Context) (jetstream.Consumer, error) {
	nc, _, err := nd.cfg.connect(nd.cfg.url, "forkless node "+nd.name)
	if err != nil {
		return nil, err
	}
	nd.nc = nc
	if nd.js, err = jetstream.New(nc); err != nil {
		return nil, err
	}
	if err := ensureStreams(ctx, nd.js, nd.n); err != nil {
		return nil, err
	}
	ws, err := nd.js.Stream(ctx, nd.n.workStream)
	if err != nil {
		return nil, err
	}
	nd.work = ws
	// One more delivery than the limit: the extra one, taken by a live
	// node, reports the item failed (the earlier ones died with it).
	cons, err := ws.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: nd.n.consumer, FilterSubject: nd.n.work + ".>", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: nd.cfg.ackWait, MaxDeliver: nd.cfg.maxDeliver + 1, BackOff: nd.cfg.backoff,
		MaxAckPending: 1 << 16,
	})
	if err != nil {
		return nil, fmt.Errorf("create work consumer: %w", err)
	}
	info := cons.CachedInfo()
	nd.limit = max(info.Config.MaxDeliver-1, 1)
	nd.beat = info.Config.AckWait
	for _, b := range info.Config.BackOff {
		nd.beat = min(nd.beat, b)
	}
	nd.beat = max(nd.beat/3, 10*time.Millisecond)
	return cons, nil
}

// hello announces the node every helloEvery until ctx ends.
func (nd *node) hello(ctx context.Context) {
	host, _ := os.Hostname()
	b, _ := json.Marshal(Node{Name: nd.name, Workers: nd.cfg.workers, Pid: os.Getpid(), Host: host})
	t := time.NewTicker(helloEvery)
	defer t.Stop()
	for {
		nd.nc.Publish(nd.n.nodes, b)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loop fetches chunks while it has free slots, and runs each on a
// goroutine of its own, until ctx ends.
func (nd *node) loop(ctx context.Context, cons jetstream.Consumer) error {
	slots := nd.cfg.workers
	if nd.pool != nil {
		slots++ // one chunk waiting in the pool keeps its workers busy
	}
	nd.compute = make(chan struct{}, slots)
	slots *= 2
	sem := make(chan struct{}, slots)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		free := 1
		for free < slots && len(sem) < cap(sem) {
			sem <- struct{}{}
			free++
		}
		if nd.nc.IsClosed() {
			return fmt.Errorf("serve: %w", nats.ErrConnectionClosed)
		}
		batch, err := cons.Fetch(free, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			for range free {
				<-sem
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for msg := range batch.Messages() {
			free--
			wg.Go(func() {
				defer func() { <-sem }()
				nd.handle(ctx, msg)
			})
		}
		for range free {
			<-sem
		}
	}
}

// cancels holds the jobs cancelled lately and the contexts of the chunks
// running, by job key.
type cancels struct {
	mu      sync.Mutex
	done    map[string]time.Time
	running map[string]map[*context.CancelFunc]bool
}

func (c *cancels) init() {
	c.done, c.running = map[string]time.Time{}, map[string]map[*context.CancelFunc]bool{}
}

// cancel records key as cancelled and stops its running chunks.
func (c *cancels) cancel(key string) {
	if len(key) > 2*maxName || strings.Count(key, ".") != 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.done) > 1<<16 {
		for k, t := range c.done {
			if time.Since(t) > time.Hour {
				delete(c.done, k)
			}
		}
	}
	c.done[key] = time.Now()
	for f := range c.running[key] {
		(*f)()
	}
}

// enter registers a chunk of key running under stop; it reports false if
// the job was cancelled already.
func (c *cancels) enter(key string, stop *context.CancelFunc) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.done[key]; ok {
		return false
	}
	if c.running[key] == nil {
		c.running[key] = map[*context.CancelFunc]bool{}
	}
	c.running[key][stop] = true
	return true
}

// leave unregisters a chunk; it reports whether its job was cancelled.
func (c *cancels) leave(key string, stop *context.CancelFunc) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.running[key], stop)
	if len(c.running[key]) == 0 {
		delete(c.running, key)
	}
	_, ok := c.done[key]
	return ok
}

func (c *cancels) cancelled(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.done[key]
	return ok
}
