package pool

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/spawn"
)

// Imap runs f on each item of seq on ex (a *Pool's workers) and yields the
// results in input order, like Python's Pool.imap, but in bounded memory:
// it reads seq only as far as the Window allows, never holding more items
// read and not yet yielded than the Window (rounded up to whole chunks, at
// least two), so an endless input works. (Python's imap reads its input on
// a thread of its own as fast as it can queue tasks, with no bound.)
//
// A failed item yields its error and the loop goes on. Leaving the loop,
// or ctx ending (yielded as ctx's error, last), cancels the work still in
// flight. Imap pulls the next input only when the window has room, from
// the loop's goroutine: an input that blocks holds the loop (and ctx is
// seen once it returns).
func Imap[A, R any](ctx context.Context, ex Executor, f *spawn.Func[A, R], seq iter.Seq[A], opts ...MapOption) iter.Seq2[R, error] {
	return imap(ctx, ex, f, seq, true, opts)
}

// ImapUnordered is Imap yielding results in completion order, like
// Python's Pool.imap_unordered.
func ImapUnordered[A, R any](ctx context.Context, ex Executor, f *spawn.Func[A, R], seq iter.Seq[A], opts ...MapOption) iter.Seq2[R, error] {
	return imap(ctx, ex, f, seq, false, opts)
}

// imapSlot holds one item of an Imap's window: its argument until the
// result is in, then its result until yielded.
type imapSlot[A, R any] struct {
	arg   A
	val   R
	err   error
	ready bool
}

// imapJob is the typed side of an Imap, and the state of its loop. The
// window is made of blocks of chunk slots; a task is one block (or its
// first part, when the input ends), and its items' job indices are the slot
// numbers, reused once the block is yielded.
type imapJob[A, R any] struct {
	Job
	ac      wire.Value[A]
	rc      wire.Value[R]
	ordered bool
	chunk   int

	slots   []imapSlot[A, R]
	sizes   []int // items in each block in use
	taken   []int // items of each block taken for yielding (ordered)
	yielded []int // items of each block yielded
	free    []int // blocks not in use
	order   []int // blocks in submission order (ordered)

	exhausted bool // the input ended
	inflight  int  // items submitted and not yet yielded

	mu        sync.Mutex
	completed []int // slots completed, not yet yielded (unordered)
	// wake holds at most one token. deliver marks a slot under mu, then
	// leaves a token (or finds one there); the loop looks under mu and waits
	// only if it found nothing, so a token left after its look is still
	// there when it waits: no lost wake-up, at worst a spurious one.
	wake chan struct{}
}

func newImapJob[A, R any](ctx context.Context, f *spawn.Func[A, R], ordered bool, cfg mapConfig) *imapJob[A, R] {
	nblocks := max(2, (cfg.window+cfg.chunk-1)/cfg.chunk)
	m := &imapJob[A, R]{
		ordered: ordered, chunk: cfg.chunk,
		slots: make([]imapSlot[A, R], nblocks*cfg.chunk),
		sizes: make([]int, nblocks), taken: make([]int, nblocks), yielded: make([]int, nblocks),
		free: make([]int, 0, nblocks), wake: make(chan struct{}, 1),
	}
	for b := nblocks - 1; b >= 0; b-- {
		m.free = append(m.free, b)
	}
	initJob(ctx, &m.Job, f, m)
	m.ac, m.rc = codecs(f)
	return m
}

func imap[A, R any](ctx context.Context, ex Executor, f *spawn.Func[A, R], seq iter.Seq[A], ordered bool, opts []MapOption) iter.Seq2[R, error] {
	return func(yield func(R, error) bool) {
		var zero R
		if err := f.Err(); err != nil {
			yield(zero, fmt.Errorf("imap: %w", err))
			return
		}
		cfg := mapConfig{chunk: 1}
		for _, o := range opts {
			o(&cfg)
		}
		cfg.chunk = max(cfg.chunk, 1)
		if cfg.window <= 0 {
			cfg.window = max(64, 4*ex.Workers()*cfg.chunk)
		}
		m := newImapJob(ctx, f, ordered, cfg)
		finished := false
		defer func() {
			if !finished {
				ex.CancelJob(&m.Job)
			}
		}()
		next, stop := iter.Pull(seq)
		defer stop()
		for {
			if err := m.fill(ex, next); err != nil {
				// The deferred cancel stops what was submitted before.
				yield(zero, fmt.Errorf("imap %s: %w", f.Name(), err))
				return
			}
			if m.inflight == 0 {
				finished = true
				return
			}
			take := m.ready()
			if len(take) == 0 {
				select {
				case <-m.wake:
				case <-ctx.Done():
					yield(zero, fmt.Errorf("imap %s: %w", f.Name(), ctx.Err()))
					return
				}
				continue
			}
			for _, k := range take {
				if !yield(m.release(k)) {
					return
				}
			}
		}
	}
}

// fill reads the input into free blocks and submits each block as a task.
func (m *imapJob[A, R]) fill(ex Executor, next func() (A, bool)) error {
	for !m.exhausted && len(m.free) > 0 {
		b := m.free[len(m.free)-1]
		n := 0
		for n < m.chunk {
			a, ok := next()
			if !ok {
				m.exhausted = true
				break
			}
			m.slots[b*m.chunk+n] = imapSlot[A, R]{arg: a}
			n++
		}
		if n == 0 {
			break
		}
		m.free = m.free[:len(m.free)-1]
		m.sizes[b], m.taken[b], m.yielded[b] = n, 0, 0
		if m.ordered {
			m.order = append(m.order, b)
		}
		m.inflight += n
		if err := ex.RunJob(&m.Job, b*m.chunk, b*m.chunk+n, n); err != nil {
			return err
		}
	}
	return nil
}

// ready returns the slots whose results can be yielded now, in yield order.
func (m *imapJob[A, R]) ready() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ordered {
		take := m.completed
		m.completed = nil
		return take
	}
	var take []int
	for len(m.order) > 0 {
		b := m.order[0]
		k := b*m.chunk + m.taken[b]
		if !m.slots[k].ready {
			break
		}
		take = append(take, k)
		m.taken[b]++
		if m.taken[b] == m.sizes[b] {
			m.order = m.order[1:]
		}
	}
	return take
}

// release empties slot k, frees its block once all of it was yielded, and
// returns the slot's result.
func (m *imapJob[A, R]) release(k int) (R, error) {
	s := &m.slots[k]
	val, err := s.val, s.err
	*s = imapSlot[A, R]{}
	m.inflight--
	b := k / m.chunk
	m.yielded[b]++
	if m.yielded[b] == m.sizes[b] {
		m.free = append(m.free, b)
	}
	return val, err
}

func (m *imapJob[A, R]) appendArg(dst []byte, i int) ([]byte, error) {
	return m.ac.Append(dst, &m.slots[i].arg)
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
	if !m.ordered {
		m.completed = append(m.completed, i)
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
