package spawn

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/forkless-go/forkless/internal/wire"
)

// MapOption configures Map, Imap and ImapUnordered.
type MapOption func(*mapConfig)

type mapConfig struct {
	chunk  int
	window int
}

// Chunk sets how many items travel to a worker as one task. Map's default
// is Python's rule (ChunkSize: about four tasks per worker); Imap's is 1.
func Chunk(n int) MapOption { return func(c *mapConfig) { c.chunk = n } }

// Window bounds how many items of an Imap are submitted and not yet
// yielded (default: 4 tasks per worker, at least 64 items), so an endless
// input uses bounded memory.
func Window(n int) MapOption { return func(c *mapConfig) { c.window = n } }

// Args2 and Args3 carry several arguments to one task: the starmap case.
// A function taking them is registered like any other:
//
//	var mul = spawn.Register("main.mul", func(ctx context.Context, a spawn.Args2[int, int]) (int, error) {
//		return a.A * a.B, nil
//	})
//	products, err := spawn.Map(ctx, pool, mul, []spawn.Args2[int, int]{{2, 3}, {4, 5}})
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

// ItemError is the failure of one item of a Map.
type ItemError struct {
	Index int // the item's index in the input
	Err   error
}

func (e ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }
func (e ItemError) Unwrap() error { return e.Err }

// MapError reports the items of a Map that failed; the others have their
// results. errors.Is and errors.As look into every item's error.
type MapError struct {
	Func   string
	Total  int
	Failed []ItemError // in input order
}

func (e *MapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "map %s: %d of %d items failed", e.Func, len(e.Failed), e.Total)
	if len(e.Failed) > 0 {
		fmt.Fprintf(&b, "; first: %v", e.Failed[0])
	}
	return b.String()
}

// Unwrap returns every item's error.
func (e *MapError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i := range e.Failed {
		out[i] = e.Failed[i]
	}
	return out
}

// funcCodecs returns f's argument and result codecs.
func funcCodecs[A, R any](f *Func[A, R]) (wire.Value[A], wire.Value[R]) {
	return wire.For[A](f.codec), wire.For[R](f.codec)
}

func decodeErr(fn string, err error) error {
	return fmt.Errorf("decode result of %s: %v: %w", fn, err, ErrEncode)
}

// mapJob is the typed side of a Map.
type mapJob[A, R any] struct {
	job
	items     []A
	out       []R
	ac        wire.Value[A]
	rc        wire.Value[R]
	mu        sync.Mutex
	failed    []ItemError
	remaining atomic.Int64
	done      chan struct{}
}

func (m *mapJob[A, R]) encode(dst []byte, i int) ([]byte, error) {
	return m.ac.AppendField(dst, &m.items[i])
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
	}
}

// Map runs f on every item of items in the pool's workers and returns the
// results in input order, like Python's Pool.map. Items travel in chunks
// (Chunk; by default Python's rule, ChunkSize). When items fail (an error,
// a panic, a dead worker), the others still run, and Map returns every
// result along with a *MapError listing the failures. When ctx ends, Map
// cancels the work (see Pool) and returns ctx's error at once.
func Map[A, R any](ctx context.Context, p *Pool, f *Func[A, R], items []A, opts ...MapOption) ([]R, error) {
	if f.err != nil {
		return nil, fmt.Errorf("map: %w", f.err)
	}
	var cfg mapConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.chunk <= 0 {
		cfg.chunk = ChunkSize(len(items), p.Workers())
	}
	if len(items) == 0 {
		return []R{}, nil
	}
	m := &mapJob[A, R]{items: items, out: make([]R, len(items)), done: make(chan struct{})}
	m.fn, m.ops = f.name, m
	m.ac, m.rc = funcCodecs(f)
	m.remaining.Store(int64(len(items)))
	if err := p.submit(&m.job, 0, len(items), cfg.chunk); err != nil {
		return nil, fmt.Errorf("map %s: %w", f.name, err)
	}
	select {
	case <-m.done:
	case <-ctx.Done():
		p.cancelJob(&m.job)
		return nil, fmt.Errorf("map %s: %w", f.name, ctx.Err())
	}
	if len(m.failed) > 0 {
		slices.SortFunc(m.failed, func(a, b ItemError) int { return a.Index - b.Index })
		return m.out, &MapError{Func: f.name, Total: len(items), Failed: m.failed}
	}
	return m.out, nil
}

// Apply runs f(arg) in one of the pool's workers and returns its result,
// like Python's Pool.apply. When ctx ends, the task is cancelled.
func Apply[A, R any](ctx context.Context, p *Pool, f *Func[A, R], arg A) (R, error) {
	fu := Submit(p, f, arg)
	r, err := fu.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		fu.Cancel()
	}
	return r, err
}

// Submit queues f(arg) in the pool and returns its future at once, like
// Python's apply_async and ProcessPoolExecutor.submit. An error (the pool
// is closed, say) is the future's.
func Submit[A, R any](p *Pool, f *Func[A, R], arg A) *Future[R] {
	fu := newFuture[R](p)
	if f.err != nil {
		var zero R
		fu.complete(zero, fmt.Errorf("submit: %w", f.err))
		return fu
	}
	sj := &submitJob[A, R]{arg: arg, fu: fu}
	sj.fn, sj.ops = f.name, sj
	sj.ac, sj.rc = funcCodecs(f)
	fu.job = &sj.job
	if err := p.submit(fu.job, 0, 1, 1); err != nil {
		var zero R
		fu.complete(zero, fmt.Errorf("submit %s: %w", f.name, err))
	}
	return fu
}

// submitJob is the typed side of a Submit.
type submitJob[A, R any] struct {
	job
	arg A
	ac  wire.Value[A]
	rc  wire.Value[R]
	fu  *Future[R]
}

func (s *submitJob[A, R]) encode(dst []byte, _ int) ([]byte, error) {
	return s.ac.AppendField(dst, &s.arg)
}

func (s *submitJob[A, R]) deliver(_ int, value []byte, err error) {
	var v R
	if err == nil {
		if derr := s.rc.Decode(value, &v, errChunk); derr != nil {
			err = decodeErr(s.fn, derr)
		}
	}
	s.fu.complete(v, err)
}

// errStopped ends an Imap whose consumer left the loop.
var errStopped = errors.New("imap stopped")

// Imap runs f on each item of seq and yields the results in input order,
// like Python's Pool.imap, but streaming: it reads seq only as far as the
// Window allows (Python reads the whole input first), so an endless input
// works in bounded memory. A failed item yields its error and the loop
// goes on. Leaving the loop, or ctx ending (yielded as ctx's error, last),
// cancels the work still in flight. Imap pulls the next input only when
// the window has room, from the loop's goroutine: an input that blocks
// holds the loop (and ctx is seen once it returns).
func Imap[A, R any](ctx context.Context, p *Pool, f *Func[A, R], seq iter.Seq[A], opts ...MapOption) iter.Seq2[R, error] {
	return imap(ctx, p, f, seq, true, opts)
}

// ImapUnordered is Imap yielding results in completion order, like
// Python's Pool.imap_unordered.
func ImapUnordered[A, R any](ctx context.Context, p *Pool, f *Func[A, R], seq iter.Seq[A], opts ...MapOption) iter.Seq2[R, error] {
	return imap(ctx, p, f, seq, false, opts)
}

// imapSlot holds one item of an Imap's window: its argument until the
// result is in, then its result until yielded.
type imapSlot[A, R any] struct {
	arg   A
	val   R
	err   error
	ready bool
}

func imap[A, R any](ctx context.Context, p *Pool, f *Func[A, R], seq iter.Seq[A], ordered bool, opts []MapOption) iter.Seq2[R, error] {
	return func(yield func(R, error) bool) {
		var zero R
		if f.err != nil {
			yield(zero, fmt.Errorf("imap: %w", f.err))
			return
		}
		cfg := mapConfig{chunk: 1}
		for _, o := range opts {
			o(&cfg)
		}
		cfg.chunk = max(cfg.chunk, 1)
		if cfg.window <= 0 {
			cfg.window = max(64, 4*p.Workers()*cfg.chunk)
		}
		// The window is made of blocks of chunk slots; a task is one block
		// (or its first part, when the input ends), and its items' job
		// indices are the slot numbers, reused once the block is yielded.
		nblocks := max(2, (cfg.window+cfg.chunk-1)/cfg.chunk)
		slots := make([]imapSlot[A, R], nblocks*cfg.chunk)
		sizes := make([]int, nblocks)   // items in each block in use
		taken := make([]int, nblocks)   // items of each block taken for yielding (ordered)
		yielded := make([]int, nblocks) // items of each block yielded
		free := make([]int, 0, nblocks)
		for b := nblocks - 1; b >= 0; b-- {
			free = append(free, b)
		}
		var order []int // blocks in submission order (ordered)
		var (
			mu        sync.Mutex
			completed []int // slots completed, not yet yielded (unordered)
			// wake holds at most one token. deliver marks a slot under mu,
			// then leaves a token (or finds one there); the loop looks
			// under mu and waits only if it found nothing, so a token left
			// after its look is still there when it waits: no lost wake-up,
			// at worst a spurious one.
			wake = make(chan struct{}, 1)
		)
		ij := &imapJob[A, R]{slots: slots}
		ij.fn, ij.ops = f.name, ij
		ij.ac, ij.rc = funcCodecs(f)
		ij.onDone = func(i int) {
			if !ordered {
				completed = append(completed, i)
			}
		}
		ij.mu, ij.wake = &mu, wake
		j := &ij.job
		finished := false
		defer func() {
			if !finished {
				p.cancelJob(j)
			}
		}()
		next, stop := iter.Pull(seq)
		defer stop()
		exhausted := false
		inflight := 0
		for {
			// Fill the window.
			for !exhausted && len(free) > 0 {
				b := free[len(free)-1]
				n := 0
				for n < cfg.chunk {
					a, ok := next()
					if !ok {
						exhausted = true
						break
					}
					slots[b*cfg.chunk+n] = imapSlot[A, R]{arg: a}
					n++
				}
				if n == 0 {
					break
				}
				free = free[:len(free)-1]
				sizes[b], taken[b], yielded[b] = n, 0, 0
				if ordered {
					order = append(order, b)
				}
				inflight += n
				if err := p.submit(j, b*cfg.chunk, b*cfg.chunk+n, n); err != nil {
					// The deferred cancel stops what was submitted before.
					yield(zero, fmt.Errorf("imap %s: %w", f.name, err))
					return
				}
			}
			if inflight == 0 {
				finished = true
				return
			}
			// Take what is ready.
			var take []int
			mu.Lock()
			if ordered {
				for len(order) > 0 {
					b := order[0]
					k := b*cfg.chunk + taken[b]
					if !slots[k].ready {
						break
					}
					take = append(take, k)
					taken[b]++
					if taken[b] == sizes[b] {
						order = order[1:]
					}
				}
			} else {
				take, completed = completed, nil
			}
			mu.Unlock()
			if len(take) == 0 {
				select {
				case <-wake:
				case <-ctx.Done():
					yield(zero, fmt.Errorf("imap %s: %w", f.name, ctx.Err()))
					return
				}
				continue
			}
			for _, k := range take {
				s := &slots[k]
				val, err := s.val, s.err
				*s = imapSlot[A, R]{}
				inflight--
				b := k / cfg.chunk
				yielded[b]++
				if yielded[b] == sizes[b] {
					free = append(free, b)
				}
				if !yield(val, err) {
					return
				}
			}
		}
	}
}

// imapJob is the typed side of an Imap: item i is window slot i.
type imapJob[A, R any] struct {
	job
	slots  []imapSlot[A, R]
	ac     wire.Value[A]
	rc     wire.Value[R]
	mu     *sync.Mutex
	wake   chan struct{}
	onDone func(i int) // called with mu held
}

func (m *imapJob[A, R]) encode(dst []byte, i int) ([]byte, error) {
	return m.ac.AppendField(dst, &m.slots[i].arg)
}

func (m *imapJob[A, R]) deliver(i int, value []byte, err error) {
	var v R
	if err == nil {
		if derr := m.rc.Decode(value, &v, errChunk); derr != nil {
			err = decodeErr(m.fn, derr)
		}
	}
	m.mu.Lock()
	s := &m.slots[i]
	s.val, s.err, s.ready = v, err, true
	m.onDone(i)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
