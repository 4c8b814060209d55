package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Option configures Dial and Serve; some apply to one of them only (each
// says so).
type Option func(*config)

type config struct {
	url    string
	conn   *nats.Conn
	prefix string
	name   string

	// Dial
	localNodes  int
	nodeOpts    []Option
	waitNodes   int
	maxChunk    int
	maxBytes    int
	jobTimeout  time.Duration
	storeDir    string
	workersHint int

	// Serve
	workers    int
	inProcess  bool
	ackWait    time.Duration
	maxDeliver int
	backoff    []time.Duration
}

func defaults() config {
	return config{prefix: "forkless", maxChunk: 1024, maxBytes: 512 << 10, ackWait: 30 * time.Second, maxDeliver: 3}
}

// URL connects to the NATS server (or cluster) at url instead of starting
// an embedded one.
func URL(url string) Option { return func(c *config) { c.url = url } }

// Conn uses nc, an existing connection (the caller keeps closing it).
func Conn(nc *nats.Conn) Option { return func(c *config) { c.conn = nc } }

// Prefix names the subjects ("PREFIX.work.>", ...) and streams
// ("PREFIX_WORK", "PREFIX_RESULTS") of one cluster; default "forkless".
// Callers and nodes must agree.
func Prefix(p string) Option { return func(c *config) { c.prefix = p } }

// Name names this node (Serve) in errors and stats; default host/pid.
func Name(n string) Option { return func(c *config) { c.name = n } }

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// names are the subjects and streams of a prefix.
type names struct {
	work, results, status, cancel, nodes string // subject prefixes (no trailing dot)
	workStream, resultStream, consumer   string
}

func namesOf(prefix string) (names, error) {
	if !tokenRE.MatchString(prefix) {
		return names{}, fmt.Errorf("prefix %q: want 1-32 of A-Z a-z 0-9 _ -", prefix)
	}
	up := strings.ToUpper(strings.ReplaceAll(prefix, "-", "_"))
	return names{
		work: prefix + ".work", results: prefix + ".results", status: prefix + ".status",
		cancel: prefix + ".cancel", nodes: prefix + ".nodes",
		workStream: up + "_WORK", resultStream: up + "_RESULTS", consumer: up + "_NODES",
	}, nil
}

// connect returns the connection c says, and whether the caller owns it.
func (c *config) connect(url, name string) (*nats.Conn, bool, error) {
	if c.conn != nil {
		return c.conn, false, nil
	}
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.ReconnectBufSize(64<<20),
		nats.RetryOnFailedConnect(false))
	if err != nil {
		return nil, false, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, true, nil
}

// ensureStreams creates the work and result streams, or checks they are
// there (an existing stream is left as it is).
func ensureStreams(ctx context.Context, js jetstream.JetStream, n names) error {
	cfgs := []jetstream.StreamConfig{
		{Name: n.workStream, Subjects: []string{n.work + ".>"}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute, MaxMsgSize: 8 << 20},
		{Name: n.resultStream, Subjects: []string{n.results + ".>"}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, MaxAge: time.Hour, MaxMsgSize: 8 << 20},
	}
	for _, sc := range cfgs {
		if _, err := js.CreateStream(ctx, sc); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("create stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// retry calls f until it succeeds, ctx ends, or it fails with an error
// that waiting does not cure; the server may be restarting.
func retry(ctx context.Context, f func() error) error {
	wait := 20 * time.Millisecond
	for {
		err := f()
		if err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// transient reports whether err may go away by itself (the server is
// down, restarting, or slow): anything but a closed connection or a
// message the server will never take.
func transient(err error) bool {
	return !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrMaxPayload) &&
		!errors.Is(err, context.Canceled)
}
