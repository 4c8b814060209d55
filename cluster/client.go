package cluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// Executor runs the items of pool jobs on the nodes of a cluster: it is a
// pool.Executor, so pool.Map, Imap, ImapUnordered, Apply and Submit take
// it as they take a *pool.Pool. Make one with Dial and end it with Close.
type Executor struct {
	cfg   config
	n     names
	id    string // this caller's id: the last token of its subjects
	nc    *nats.Conn
	ownNC bool
	js    jetstream.JetStream
	work  jetstream.Stream
	srv   *Server
	tmp   string // the embedded server's store, removed by Close
	cons  jetstream.ConsumeContext
	subs  []*nats.Subscription
	local []*spawn.Process[struct{}]

	mu     sync.Mutex
	closed bool
	jobs   map[*pool.Job]*cjob
	tasks  map[uint64]*ctask
	taskID atomic.Uint64  // ids of jobs and tasks
	bg     sync.WaitGroup // purges of cancelled jobs

	nodes presence
	st    counters
}

// cjob is a job as this executor knows it while it has tasks out.
type cjob struct {
	id        uint64
	job       *pool.Job
	tasks     map[uint64]*ctask
	cancelled bool
}

// ctask is one chunk of a job in flight: items [lo, lo+len(got)).
type ctask struct {
	id      uint64
	job     *cjob
	lo      int
	got     []bool // delivered: the de-duplication of results
	left    int
	started bool
	node    string // the node that last said it runs the task
}

// LocalNodes makes Dial start n node processes on this machine (the
// running binary again, through spawn; the program calls spawn.Main
// first), each serving with opts (Workers, InProcess, AckWait, MaxDeliver,
// Name), and wait until they are ready. Close stops them.
func LocalNodes(n int, opts ...Option) Option {
	return func(c *config) { c.localNodes, c.nodeOpts = n, opts }
}

// WaitNodes makes Dial wait until n nodes have announced themselves.
func WaitNodes(n int) Option { return func(c *config) { c.waitNodes = n } }

// MaxChunk bounds the items of one task on the wire (default 1024): Map's
// chunk is cut to it. Tasks are also cut at 512 KiB of arguments.
func MaxChunk(n int) Option { return func(c *config) { c.maxChunk = max(n, 1) } }

// JobTimeout puts a deadline on every task: published + d. A node fails
// the items it has not run by then with ErrDeadline and runs the others
// under a context with that deadline.
func JobTimeout(d time.Duration) Option { return func(c *config) { c.jobTimeout = d } }

// StoreDir is where an embedded server keeps its streams (default: a
// temporary directory, removed by Close).
func StoreDir(dir string) Option { return func(c *config) { c.storeDir = dir } }

// Dial connects to a cluster and returns its executor. Without URL or
// Conn it starts a NATS server with JetStream in this process (listening
// on 127.0.0.1 only, storage in a temporary directory), which nodes of this
// machine reach (LocalNodes starts some). ctx bounds the start only.
func Dial(ctx context.Context, opts ...Option) (*Executor, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	n, err := namesOf(cfg.prefix)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	e := &Executor{cfg: cfg, n: n, id: nuid.Next(), jobs: map[*pool.Job]*cjob{}, tasks: map[uint64]*ctask{}}
	e.nodes.init()
	if err := e.open(ctx); err != nil {
		e.Close(context.Background())
		return nil, fmt.Errorf("dial: %w", err)
	}
	return e, nil
}

// open does Dial's work; Close undoes what it did.
func (e *Executor) open(ctx context.Context) error {
	url := e.cfg.url
	if e.cfg.conn == nil && url == "" {
		dir := e.cfg.storeDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "forkless-cluster-")
			if err != nil {
				return err
			}
			dir, e.tmp = tmp, tmp
		}
		srv, err := StartServer("127.0.0.1:0", dir)
		if err != nil {
			return err
		}
		e.srv, url = srv, srv.URL()
	}
	nc, own, err := e.cfg.connect(url, "forkless caller "+e.id)
	if err != nil {
		return err
	}
	e.nc, e.ownNC = nc, own
	if e.js, err = jetstream.New(nc); err != nil {
		return err
	}
	if err := ensureStreams(ctx, e.js, e.n); err != nil {
		return err
	}
	if e.work, err = e.js.Stream(ctx, e.n.workStream); err != nil {
		return err
	}
	if err := e.subscribe(ctx); err != nil {
		return err
	}
	if e.cfg.localNodes > 0 {
		if err := e.startLocal(ctx, e.nc.ConnectedUrl()); err != nil {
			return err
		}
	}
	if want := max(e.cfg.waitNodes, e.cfg.localNodes); want > 0 {
		return e.nodes.wait(ctx, want)
	}
	return nil
}

// subscribe starts the result consumer and the status and node
// subscriptions.
func (e *Executor) subscribe(ctx context.Context) error {
	rs, err := e.js.Stream(ctx, e.n.resultStream)
	if err != nil {
		return err
	}
	cons, err := rs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "caller_" + e.id, FilterSubject: e.n.results + "." + e.id,
		AckPolicy: jetstream.AckExplicitPolicy, InactiveThreshold: 10 * time.Minute,
		MaxAckPending: 1 << 16,
	})
	if err != nil {
		return fmt.Errorf("create result consumer: %w", err)
	}
	if e.cons, err = cons.Consume(e.onResults, jetstream.PullMaxMessages(512)); err != nil {
		return fmt.Errorf("consume results: %w", err)
	}
	for subj, h := range map[string]nats.MsgHandler{e.n.status + "." + e.id: e.onStatus, e.n.nodes: e.nodes.onHello} {
		s, err := e.nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", subj, err)
		}
		e.subs = append(e.subs, s)
	}
	return e.nc.FlushWithContext(ctx)
}

// Workers returns the number of items the live nodes run at once (at least
// 1): Map's default chunk and Imap's window follow it.
func (e *Executor) Workers() int { return max(e.nodes.workers(), 1) }

// URL returns the URL of the NATS server the executor is connected to:
// nodes of this cluster connect there.
func (e *Executor) URL() string { return e.nc.ConnectedUrl() }

// Close stops the executor: items still out fail with ErrClosed, the local
// nodes stop (Terminate, then a kill after ctx ends or 5s), the connection
// closes (unless it was given with Conn) and an embedded server shuts down.
func (e *Executor) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	var fails []func()
	for _, t := range e.tasks {
		fails = append(fails, e.dropTask(t, ErrClosed))
	}
	e.mu.Unlock()
	for _, f := range fails {
		f()
	}
	if e.cons != nil {
		e.cons.Stop()
	}
	for _, s := range e.subs {
		s.Unsubscribe()
	}
	e.bg.Wait()
	e.stopLocal(ctx)
	if e.nc != nil && e.js != nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if rs, err := e.js.Stream(dctx, e.n.resultStream); err == nil {
			rs.DeleteConsumer(dctx, "caller_"+e.id)
		}
		cancel()
	}
	if e.ownNC && e.nc != nil {
		e.nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
	}
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
	return nil
}

// dropTask forgets t (e.mu held) and returns what delivers err to its
// undelivered items, to be called without the lock.
func (e *Executor) dropTask(t *ctask, err error) func() {
	delete(e.tasks, t.id)
	delete(t.job.tasks, t.id)
	if len(t.job.tasks) == 0 && e.jobs[t.job.job] == t.job {
		delete(e.jobs, t.job.job)
	}
	var idx []int
	for k, got := range t.got {
		if !got {
			t.got[k] = true
			idx = append(idx, t.lo+k)
		}
	}
	e.st.settle(t, len(idx), 0, len(idx), 0)
	t.left = 0
	job := t.job.job
	return func() {
		for _, i := range idx {
			job.Deliver(i, nil, err)
		}
	}
}

// CancelJob stops job: its tasks are forgotten (late results are dropped),
// its queued chunks are purged from the work stream, and the nodes are
// told to stop the ones they run. It does not wait for any of it.
func (e *Executor) CancelJob(job *pool.Job) {
	e.mu.Lock()
	cj := e.jobs[job]
	if cj == nil || cj.cancelled {
		e.mu.Unlock()
		return
	}
	cj.cancelled = true
	delete(e.jobs, job)
	for _, t := range cj.tasks {
		delete(e.tasks, t.id)
		e.st.settle(t, 0, 0, 0, t.left)
	}
	cj.tasks = nil
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return
	}
	key := e.jobKey(cj.id)
	e.nc.Publish(e.n.cancel, []byte(key))
	e.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		retry(ctx, func() error {
			return e.work.Purge(ctx, jetstream.WithPurgeSubject(e.n.work+"."+key))
		})
	})
	e.st.changed()
}

// jobKey names a job of this caller across the cluster: the last two
// tokens of its work subject, and what a cancel notice says.
func (e *Executor) jobKey(id uint64) string { return fmt.Sprintf("%s.%d", e.id, id) }
