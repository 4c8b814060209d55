package pool

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/spawn"
)

// MapOption configures Map, Imap and ImapUnordered.
type MapOption func(*mapConfig)

type mapConfig struct {
	chunk  int
	window int
}

// Chunk sets how many items travel to a worker as one task. Map's default
// is Python's rule (ChunkSize: about four tasks per worker); Imap's is 1.
// With 1, each item is a task of its own: scheduled, run, timed and failed
// alone. (Consecutive one-item tasks handed to the same worker at once
// share a descriptor in transit when their arguments are small; that
// changes none of this.)
func Chunk(n int) MapOption { return func(c *mapConfig) { c.chunk = n } }

// Window bounds how many items of an Imap are read from its input and not
// yet yielded (default: 4 tasks per worker, at least 64 items; rounded up
// to whole chunks, at least two), so an endless input uses bounded memory.
func Window(n int) MapOption { return func(c *mapConfig) { c.window = n } }

// ChunkSize returns the chunk size Python's Pool.map picks for n items on
// workers workers: n / (4*workers), rounded up, at least 1. Four chunks per
// worker keep the workers busy to the end while the cost per task is paid
// only a few times.
func ChunkSize(n, workers int) int {
	if n <= 0 {
		return 1
	}
	workers = max(workers, 1)
	c, extra := n/(4*workers), n%(4*workers)
	if extra != 0 {
		c++
	}
	return max(c, 1)
}

// Args2 and Args3 carry several arguments to one task: the starmap case.
// A function taking them is registered like any other:
//
//	var mul = spawn.Register("main.mul", func(ctx context.Context, a pool.Args2[int, int]) (int, error) {
//		return a.A * a.B, nil
//	})
//	products, err := pool.Map(ctx, p, mul, []pool.Args2[int, int]{{2, 3}, {4, 5}})
//
// Any struct type does the same; these save declaring one.
type Args2[A, B any] struct {
	A A
	B B
}

// Args3 carries three arguments; see Args2.
type Args3[A, B, C any] struct {
	A A
	B B
	C C
}

// codecs returns f's argument and result encodings.
func codecs[A, R any](f *spawn.Func[A, R]) (wire.Value[A], wire.Value[R]) {
	return wire.For[A](f.Codec()), wire.For[R](f.Codec())
}

func decodeErr(fn string, err error) error {
	return fmt.Errorf("decode result of %s: %v: %w", fn, err, spawn.ErrEncode)
}

// mapJob is the typed side of a Map.
type mapJob[A, R any] struct {
	Job
	items     []A
	out       []R
	ac        wire.Value[A]
	rc        wire.Value[R]
	mu        sync.Mutex
	failed    []ItemError
	remaining atomic.Int64
	done      chan struct{}
}

func (m *mapJob[A, R]) appendArg(dst []byte, i int) ([]byte, error) {
	return m.ac.Append(dst, &m.items[i])
}

func (m *mapJob[A, R]) appendArgs(dst []byte, lo, hi int) ([]byte, error) {
	return appendItems(dst, m.ac, m.items[lo:hi])
}

func (m *mapJob[A, R]) takeOK(payload []byte, lo, n int) (int, []byte) {
	return takeItems(payload, m.rc, m.out[lo:lo+n])
}

func (m *mapJob[A, R]) settle(k int) {
	if k > 0 && m.remaining.Add(-int64(k)) == 0 {
		close(m.done)
		handOff()
	}
}

func (m *mapJob[A, R]) deliver(i int, value []byte, err error) {
	if err == nil {
		if derr := m.rc.Decode(value, &m.out[i], errChunk); derr != nil {
			err = decodeErr(m.fn, derr)
		}
	}
	if err != nil {
		m.mu.Lock()
		m.failed = append(m.failed, ItemError{i, err})
		m.mu.Unlock()
	}
	if m.remaining.Add(-1) == 0 {
		close(m.done)
		handOff()
	}
}

// Map runs f on every item of items on ex (a *Pool's workers) and returns
// the results in input order, like Python's Pool.map. Items travel in
// chunks (Chunk; by default Python's rule, ChunkSize). When items fail (an
// error, a panic, a dead worker), the others still run, and Map returns
// every result along with a *MapError listing the failures. When ctx ends,
// Map cancels the work (see Pool) and returns ctx's error at once.
func Map[A, R any](ctx context.Context, ex Executor, f *spawn.Func[A, R], items []A, opts ...MapOption) ([]R, error) {
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	var cfg mapConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.chunk <= 0 {
		cfg.chunk = ChunkSize(len(items), ex.Workers())
	}
	if len(items) == 0 {
		return []R{}, nil
	}
	m := &mapJob[A, R]{items: items, out: make([]R, len(items)), done: make(chan struct{})}
	initJob(ctx, &m.Job, f, m)
	m.ac, m.rc = codecs(f)
	m.remaining.Store(int64(len(items)))
	if err := ex.RunJob(&m.Job, 0, len(items), cfg.chunk); err != nil {
		return nil, fmt.Errorf("map %s: %w", f.Name(), err)
	}
	select {
	case <-m.done:
	case <-ctx.Done():
		ex.CancelJob(&m.Job)
		return nil, fmt.Errorf("map %s: %w", f.Name(), ctx.Err())
	}
	if len(m.failed) > 0 {
		slices.SortFunc(m.failed, func(a, b ItemError) int { return a.Index - b.Index })
		return m.out, &MapError{Func: f.Name(), Total: len(items), Failed: m.failed}
	}
	return m.out, nil
}
