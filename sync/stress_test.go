package sync_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// Cross-process stress tests: several children of the test binary hammer one
// primitive, and a plain (non-atomic) shared counter or a per-item tally
// proves that nothing was lost, doubled or over-admitted.

const (
	modeMutex = iota
	modeRLock
	modeRWMutex
	modeMutexAt
)

// kindApp is an application kind for a block that carries its own lock.
const kindApp shm.Kind = 0x8001

// gate makes children start their loops together, so that they contend:
// each child reports ready on a WaitGroup and waits for an Event.
type gate struct {
	Ready, Go shm.Handle
}

func (g gate) pass(ctx context.Context) error {
	if g.Ready.IsZero() {
		return nil
	}
	wg, err := fsync.OpenWaitGroup(g.Ready)
	if err != nil {
		return err
	}
	ev, err := fsync.OpenEvent(g.Go)
	if err != nil {
		return err
	}
	wg.Done()
	// Spin rather than sleep, so that the children running at the moment
	// of the Set start within a microsecond of each other: a lock that
	// failed to exclude them would then lose increments at once.
	for !ev.IsSet() {
		if err := ctx.Err(); err != nil {
			return err
		}
		runtime.Gosched()
	}
	return nil
}

// newGate makes a gate for n children; open it once they are started.
func newGate(t testing.TB, r *shm.Region, n int) (gate, func()) {
	wg := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	ev := must[*fsync.Event](t)(fsync.NewEvent(r))
	wg.Add(n)
	return gate{Ready: wg.Handle(), Go: ev.Handle()}, func() {
		t.Helper()
		if err := wg.WaitContext(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		ev.Set()
	}
}

type incArg struct {
	Gate    gate
	Lock    shm.Handle
	Counter shm.Handle
	N       int
	Mode    int
}

// pair is what RWMutex writers update and readers check: under a correct
// lock a reader never sees A != B.
type pair struct {
	A, B int64
	Torn atomic.Int64 // reads that saw A != B
}

var incWorker = spawn.Register("sync.incWorker", func(ctx context.Context, a incArg) (int, error) {
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	switch a.Mode {
	case modeMutexAt:
		// A lock at offset 0 of another package's block, a counter at 8,
		// read and written in two steps so that only the lock keeps
		// increments apart.
		blk, err := shm.BindHandle(a.Lock, kindApp)
		if err != nil {
			return 0, err
		}
		m, err := fsync.MutexAt(blk, 0)
		if err != nil {
			return 0, err
		}
		c := blk.Uint64(fsync.MutexSize)
		for range a.N {
			if err := m.Lock(); err != nil {
				return 0, err
			}
			v := c.Load()
			dawdle()
			c.Store(v + 1)
			m.Unlock()
		}
	case modeMutex:
		m, err := fsync.OpenMutex(a.Lock)
		if err != nil {
			return 0, err
		}
		c, err := shm.OpenValue[int64](a.Counter)
		if err != nil {
			return 0, err
		}
		p := c.Ptr()
		for range a.N {
			if err := m.Lock(); err != nil {
				return 0, err
			}
			v := *p
			dawdle()
			*p = v + 1
			m.Unlock()
		}
	case modeRLock:
		l, err := fsync.OpenRLock(a.Lock)
		if err != nil {
			return 0, err
		}
		c, err := shm.OpenValue[int64](a.Counter)
		if err != nil {
			return 0, err
		}
		p := c.Ptr()
		for range a.N {
			if err := l.Lock(); err != nil {
				return 0, err
			}
			if err := l.Lock(); err != nil { // re-entered
				return 0, err
			}
			v := *p
			dawdle()
			*p = v + 1
			l.Unlock()
			if l.Depth() != 1 {
				return 0, fmt.Errorf("depth %d after one of two unlocks", l.Depth())
			}
			l.Unlock()
		}
	case modeRWMutex:
		rw, err := fsync.OpenRWMutex(a.Lock)
		if err != nil {
			return 0, err
		}
		v, err := shm.OpenValue[pair](a.Counter)
		if err != nil {
			return 0, err
		}
		p := v.Ptr()
		for i := range a.N {
			if i%4 == 0 { // one write in four
				if err := rw.Lock(); err != nil {
					return 0, err
				}
				p.A++
				dawdle()
				p.B = p.A
				rw.Unlock()
				continue
			}
			if err := rw.RLock(); err != nil {
				return 0, err
			}
			if p.A != p.B {
				p.Torn.Add(1)
			}
			rw.RUnlock()
		}
	}
	return a.N, nil
})

// dawdle widens a critical section by a few tens of nanoseconds, so that a
// lock that failed to exclude would lose increments rather than get away
// with it (a bare *p++ is over too fast to race visibly).
func dawdle() {
	for range 8 {
		dawdleSink.Add(1)
	}
}

var dawdleSink atomic.Int64

func stressN(t *testing.T) int {
	if testing.Short() {
		return 10_000
	}
	return 100_000
}

func startAll[A, R any](t *testing.T, f *spawn.Func[A, R], n int, arg A, r *shm.Region) []*spawn.Process[R] {
	t.Helper()
	ps := make([]*spawn.Process[R], n)
	for i := range ps {
		p, err := f.Start(ctxT(t), arg, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Kill() })
		ps[i] = p
	}
	return ps
}

func TestStressMutexCounter(t *testing.T) {
	r := region(t)
	m := must[*fsync.Mutex](t)(fsync.NewMutex(r))
	c := must[*shm.Value[int64]](t)(shm.NewValue[int64](r))
	n := stressN(t)
	g, open := newGate(t, r, 4)
	ps := startAll(t, incWorker, 4, incArg{Gate: g, Lock: m.Handle(), Counter: c.Handle(), N: n, Mode: modeMutex}, r)
	open()
	waitAll(t, ps)
	if got := *c.Ptr(); got != int64(4*n) {
		t.Fatalf("counter = %d, want %d: the mutex let increments race", got, 4*n)
	}
}

func TestStressMutexAtCounter(t *testing.T) {
	r := region(t)
	blk, err := r.Alloc(shm.Layout{Kind: kindApp, Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	n := stressN(t)
	g, open := newGate(t, r, 4)
	ps := startAll(t, incWorker, 4, incArg{Gate: g, Lock: blk.Handle(), N: n, Mode: modeMutexAt}, r)
	open()
	waitAll(t, ps)
	if got := blk.Uint64(fsync.MutexSize).Load(); got != uint64(4*n) {
		t.Fatalf("counter = %d, want %d", got, 4*n)
	}
}

func TestStressRLockCounter(t *testing.T) {
	r := region(t)
	l := must[*fsync.RLock](t)(fsync.NewRLock(r))
	c := must[*shm.Value[int64]](t)(shm.NewValue[int64](r))
	n := stressN(t)
	g, open := newGate(t, r, 4)
	ps := startAll(t, incWorker, 4, incArg{Gate: g, Lock: l.Handle(), Counter: c.Handle(), N: n, Mode: modeRLock}, r)
	open()
	waitAll(t, ps)
	if got := *c.Ptr(); got != int64(4*n) {
		t.Fatalf("counter = %d, want %d", got, 4*n)
	}
}

func TestStressRWMutex(t *testing.T) {
	r := region(t)
	rw := must[*fsync.RWMutex](t)(fsync.NewRWMutex(r))
	v := must[*shm.Value[pair]](t)(shm.NewValue[pair](r))
	n := stressN(t)
	g, open := newGate(t, r, 4)
	ps := startAll(t, incWorker, 4, incArg{Gate: g, Lock: rw.Handle(), Counter: v.Handle(), N: n, Mode: modeRWMutex}, r)
	open()
	waitAll(t, ps)
	p := v.Ptr()
	writes := int64(4 * ((n + 3) / 4))
	if p.A != writes || p.B != writes {
		t.Fatalf("A, B = %d, %d, want %d: writers raced", p.A, p.B, writes)
	}
	if torn := p.Torn.Load(); torn != 0 {
		t.Fatalf("%d reads saw a write half done", torn)
	}
	if rw.Readers() != 0 {
		t.Fatalf("%d readers left", rw.Readers())
	}
}

// Semaphore: never more than K inside.

type semState struct {
	Inside, Max, Over atomic.Int64
}

type semArg struct {
	Gate       gate
	Sem, State shm.Handle
	N, K       int
}

var semWorker = spawn.Register("sync.semWorker", func(ctx context.Context, a semArg) (int, error) {
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	s, err := fsync.OpenSemaphore(a.Sem)
	if err != nil {
		return 0, err
	}
	v, err := shm.OpenValue[semState](a.State)
	if err != nil {
		return 0, err
	}
	st := v.Ptr()
	for range a.N {
		if err := s.Acquire(); err != nil {
			return 0, err
		}
		in := st.Inside.Add(1)
		if in > int64(a.K) {
			st.Over.Add(1)
		}
		for {
			m := st.Max.Load()
			if in <= m || st.Max.CompareAndSwap(m, in) {
				break
			}
		}
		for range 100 { // stay inside a while, so that others pile in
			if st.Inside.Load() > int64(a.K) {
				st.Over.Add(1)
			}
		}
		st.Inside.Add(-1)
		if err := s.Release(); err != nil {
			return 0, err
		}
	}
	return a.N, nil
})

func TestStressSemaphore(t *testing.T) {
	r := region(t)
	const k = 2
	s := must[*fsync.Semaphore](t)(fsync.NewSemaphore(r, k))
	st := must[*shm.Value[semState]](t)(shm.NewValue[semState](r))
	n := stressN(t) / 4
	g, open := newGate(t, r, 4)
	ps := startAll(t, semWorker, 4, semArg{Gate: g, Sem: s.Handle(), State: st.Handle(), N: n, K: k}, r)
	open()
	waitAll(t, ps)
	p := st.Ptr()
	if p.Over.Load() != 0 || p.Max.Load() > k {
		t.Fatalf("semaphore of %d admitted %d at once (%d times)", k, p.Max.Load(), p.Over.Load())
	}
	if s.Value() != k {
		t.Fatalf("value %d at the end, want %d", s.Value(), k)
	}
	t.Logf("most inside at once: %d", p.Max.Load())
}

// Cond: producers and consumers share a bounded buffer; every item is
// consumed exactly once.

const condBuf = 16

type condQueue struct {
	Buf              [condBuf]int64
	Head, Len        int64
	Consumed, Target int64
}

type condArg struct {
	Gate              gate
	Cond, Queue, Seen shm.Handle
	Producer          bool
	Base, N           int
}

var condWorker = spawn.Register("sync.condWorker", func(ctx context.Context, a condArg) (int, error) {
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	c, err := fsync.OpenCond(a.Cond)
	if err != nil {
		return 0, err
	}
	qv, err := shm.OpenValue[condQueue](a.Queue)
	if err != nil {
		return 0, err
	}
	seen, err := shm.OpenArray[int32](a.Seen)
	if err != nil {
		return 0, err
	}
	q, hits := qv.Ptr(), seen.Slice()
	got := 0
	if err := c.L.Lock(); err != nil {
		return 0, err
	}
	defer c.L.Unlock()
	if a.Producer {
		for i := range a.N {
			if err := c.WaitFor(ctx, func() bool { return q.Len < condBuf }); err != nil {
				return 0, err
			}
			q.Buf[(q.Head+q.Len)%condBuf] = int64(a.Base + i)
			q.Len++
			c.Broadcast()
		}
		return a.N, nil
	}
	for {
		if err := c.WaitFor(ctx, func() bool { return q.Len > 0 || q.Consumed == q.Target }); err != nil {
			return 0, err
		}
		if q.Len == 0 {
			return got, nil
		}
		item := q.Buf[q.Head]
		q.Head = (q.Head + 1) % condBuf
		q.Len--
		q.Consumed++
		hits[item]++
		got++
		c.Broadcast()
	}
})

func TestStressCond(t *testing.T) {
	r := region(t)
	c := must[*fsync.Cond](t)(fsync.NewCond(r))
	q := must[*shm.Value[condQueue]](t)(shm.NewValue[condQueue](r))
	n := stressN(t) / 4
	seen := must[*shm.Array[int32]](t)(shm.NewArray[int32](r, 2*n))
	q.Ptr().Target = int64(2 * n)
	g, open := newGate(t, r, 4)
	var ps []*spawn.Process[int]
	for i := range 2 {
		ps = append(ps, startAll(t, condWorker, 1, condArg{Gate: g, Cond: c.Handle(), Queue: q.Handle(), Seen: seen.Handle(), Producer: true, Base: i * n, N: n}, r)...)
		ps = append(ps, startAll(t, condWorker, 1, condArg{Gate: g, Cond: c.Handle(), Queue: q.Handle(), Seen: seen.Handle()}, r)...)
	}
	open()
	res := waitAll(t, ps)
	if res[1]+res[3] != 2*n {
		t.Fatalf("consumers took %d + %d items, want %d", res[1], res[3], 2*n)
	}
	for i, h := range seen.Slice() {
		if h != 1 {
			t.Fatalf("item %d consumed %d times", i, h)
		}
	}
}

// Barrier: 4 processes pass 1000 generations in lock step.

type barrierArg struct {
	Gate                          gate
	Barrier, Phase, Sums, Actions shm.Handle
	Me, Gens                      int
}

var barrierWorker = spawn.Register("sync.barrierWorker", func(ctx context.Context, a barrierArg) (int, error) {
	if err := a.Gate.pass(ctx); err != nil {
		return 0, err
	}
	b, err := fsync.OpenBarrier(a.Barrier)
	if err != nil {
		return 0, err
	}
	phase, err := shm.OpenArray[atomic.Int64](a.Phase)
	if err != nil {
		return 0, err
	}
	sums, err := shm.OpenArray[atomic.Int64](a.Sums)
	if err != nil {
		return 0, err
	}
	acts, err := shm.OpenValue[atomic.Int64](a.Actions)
	if err != nil {
		return 0, err
	}
	b.SetAction(func() error { acts.Ptr().Add(1); return nil })
	ph := phase.Slice()
	for g := range a.Gens {
		ph[a.Me].Store(int64(g + 1))
		idx, err := b.WaitContext(ctx)
		if err != nil {
			return 0, fmt.Errorf("generation %d: %w", g, err)
		}
		sums.Slice()[g].Add(int64(idx))
		for j := range ph {
			if p := ph[j].Load(); p < int64(g+1) || p > int64(g+2) {
				return 0, fmt.Errorf("generation %d: party %d is at phase %d", g, j, p)
			}
		}
	}
	return a.Gens, nil
})

func TestStressBarrier(t *testing.T) {
	r := region(t)
	const parties, gens = 4, 1000
	b := must[*fsync.Barrier](t)(fsync.NewBarrier(r, parties))
	phase := must[*shm.Array[atomic.Int64]](t)(shm.NewArray[atomic.Int64](r, parties))
	sums := must[*shm.Array[atomic.Int64]](t)(shm.NewArray[atomic.Int64](r, gens))
	acts := must[*shm.Value[atomic.Int64]](t)(shm.NewValue[atomic.Int64](r))
	g, open := newGate(t, r, parties)
	var ps []*spawn.Process[int]
	for i := range parties {
		ps = append(ps, startAll(t, barrierWorker, 1, barrierArg{Gate: g, Barrier: b.Handle(), Phase: phase.Handle(), Sums: sums.Handle(), Actions: acts.Handle(), Me: i, Gens: gens}, r)...)
	}
	open()
	waitAll(t, ps)
	for g := range gens {
		if s := sums.Slice()[g].Load(); s != 0+1+2+3 {
			t.Fatalf("generation %d: arrival indexes sum to %d, want 6", g, s)
		}
	}
	if n := acts.Ptr().Load(); n != gens {
		t.Fatalf("action ran %d times, want %d", n, gens)
	}
}

// WaitGroup: the parent waits for children's Done.

type wgArg struct {
	WG shm.Handle
	N  int
}

var wgWorker = spawn.Register("sync.wgWorker", func(ctx context.Context, a wgArg) (int, error) {
	wg, err := fsync.OpenWaitGroup(a.WG)
	if err != nil {
		return 0, err
	}
	for range a.N {
		wg.Done()
	}
	return a.N, nil
})

func TestWaitGroupAcrossProcesses(t *testing.T) {
	r := region(t)
	wg := must[*fsync.WaitGroup](t)(fsync.NewWaitGroup(r))
	const kids, n = 3, 1000
	wg.Add(kids * n)
	ps := startAll(t, wgWorker, kids, wgArg{WG: wg.Handle(), N: n}, r)
	if err := wg.WaitContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if wg.Count() != 0 {
		t.Fatalf("count %d after Wait", wg.Count())
	}
	waitAll(t, ps)
	_ = errors.Is
}
