package ring_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func TestMPMCFIFOAndEdges(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewMPMC[uint64](r, 5)
	if err != nil {
		t.Fatal(err)
	}
	if q.Cap() != 8 {
		t.Fatalf("Cap = %d, want 8 (5 rounded up to a power of two)", q.Cap())
	}
	if _, err := q.TryPop(); !errors.Is(err, ring.ErrEmpty) {
		t.Fatalf("TryPop on empty = %v, want ErrEmpty", err)
	}
	next, want := uint64(0), uint64(0)
	buf := make([]uint64, 11)
	for round := range 200 {
		k := round%8 + 1
		for range k {
			if err := q.TryPush(next); err != nil {
				t.Fatalf("round %d: TryPush = %v", round, err)
			}
			next++
		}
		if k == 8 {
			if err := q.TryPush(1); !errors.Is(err, ring.ErrFull) {
				t.Fatalf("TryPush on full = %v, want ErrFull", err)
			}
		}
		if q.Len() != k {
			t.Fatalf("Len = %d, want %d", q.Len(), k)
		}
		for want < next {
			n, err := q.PopBatch(buf[:round%3+1])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range buf[:n] {
				if v != want {
					t.Fatalf("got %d, want %d", v, want)
				}
				want++
			}
		}
		// A batch push that only partly fits.
		vs := buf[:11]
		for i := range vs {
			vs[i] = next + uint64(i)
		}
		n, err := q.PushBatch(vs)
		if err != nil || n != 8 {
			t.Fatalf("PushBatch of 11 into empty 8 = %d, %v", n, err)
		}
		next += 8
		for want < next {
			v, err := q.TryPop()
			if err != nil || v != want {
				t.Fatalf("TryPop = %d, %v; want %d", v, err, want)
			}
			want++
		}
	}
	q.TryPush(7)
	q.Close()
	if err := q.TryPush(8); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("TryPush after Close = %v", err)
	}
	if v, err := q.Pop(testCtx(t)); err != nil || v != 7 {
		t.Fatalf("Pop after Close = %d, %v; want the item left", v, err)
	}
	if _, err := q.Pop(testCtx(t)); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Pop of drained closed ring = %v", err)
	}
}

func TestMPMCNoSyscallWhenNobodySleeps(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewMPMC[uint64](r, 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	before := futex.Syscalls()
	for i := range 10000 {
		if err := q.Push(ctx, uint64(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Pop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := futex.Syscalls() - before; n != 0 {
		t.Fatalf("%d futex system calls with nobody asleep, want 0", n)
	}
}

func TestMPMCBadInput(t *testing.T) {
	r := newRegion(t, 1<<20)
	for _, c := range []int{0, -5, 1 << 40} {
		if _, err := ring.NewMPMC[uint64](r, c); !errors.Is(err, ring.ErrCapacity) {
			t.Errorf("NewMPMC(capacity %d) = %v, want ErrCapacity", c, err)
		}
	}
	q, err := ring.NewMPMC[[3]uint32](r, 16)
	if err != nil {
		t.Fatal(err)
	}
	h := q.Handle()
	if _, err := ring.OpenMPMC[[4]uint32](h); !errors.Is(err, shm.ErrType) {
		t.Errorf("OpenMPMC of another slot size = %v, want shm.ErrType", err)
	}
	if _, err := ring.OpenSPSC[[3]uint32](h); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenSPSC of an MPMC handle = %v, want shm.ErrKind", err)
	}
	b, err := r.Bind(h, ring.KindMPMC)
	if err != nil {
		t.Fatal(err)
	}
	b.Uint64(16).Store(32) // slots word: more than the block holds
	if _, err := ring.OpenMPMC[[3]uint32](h); !errors.Is(err, ring.ErrCorrupt) {
		t.Errorf("OpenMPMC with a corrupt slot count = %v, want ErrCorrupt", err)
	}
}

func TestMPMCParticipantsLimit(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewMPMC[uint64](r, 4)
	if err != nil {
		t.Fatal(err)
	}
	var opened []*ring.MPMC[uint64]
	for range ring.MaxParticipants - 1 {
		o, err := ring.OpenMPMC[uint64](q.Handle())
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, o)
	}
	if _, err := ring.OpenMPMC[uint64](q.Handle()); !errors.Is(err, ring.ErrCapacity) {
		t.Fatalf("open beyond MaxParticipants = %v, want ErrCapacity", err)
	}
	opened[3].Detach()
	if err := opened[3].TryPush(1); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("TryPush on a detached value = %v, want ErrClosed", err)
	}
	if _, err := ring.OpenMPMC[uint64](q.Handle()); err != nil {
		t.Fatalf("open after a Detach = %v", err)
	}
}

type mpmcArg struct {
	Ring  shm.Handle
	Seen  shm.Handle // Array[uint32], one counter per item
	ID    uint64     // producer number
	N     int64      // items per producer
	Batch int32
	NProd int32
}

// Items are ID<<40 | i.
const itemShift = 40

var mpmcProduce = spawn.Register("ring.mpmcProduce", func(ctx context.Context, a mpmcArg) (int64, error) {
	q, err := ring.OpenMPMC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	buf := make([]uint64, max(a.Batch, 1))
	for i := int64(0); i < a.N; {
		k := int64(1)
		if a.Batch > 0 {
			k = min(int64(1+int(i)%int(a.Batch)), a.N-i)
		}
		for j := range k {
			buf[j] = a.ID<<itemShift | uint64(i+j)
		}
		if _, err := q.PushAll(ctx, buf[:k]); err != nil {
			return i, err
		}
		i += k
	}
	return a.N, nil
})

// mpmcConsume pops until closed and drained; it counts every item in the
// shared Seen array and checks that each producer's items come in order.
var mpmcConsume = spawn.Register("ring.mpmcConsume", func(ctx context.Context, a mpmcArg) (int64, error) {
	q, err := ring.OpenMPMC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	seen, err := shm.OpenArray[uint32](a.Seen)
	if err != nil {
		return 0, err
	}
	return consumeCounting(ctx, q, seen.Slice(), a)
})

func consumeCounting(ctx context.Context, q *ring.MPMC[uint64], seen []uint32, a mpmcArg) (int64, error) {
	last := make([]int64, a.NProd)
	for i := range last {
		last[i] = -1
	}
	buf := make([]uint64, max(a.Batch, 1))
	var count int64
	for {
		n, err := q.PopSome(ctx, buf[:1+int(count)%len(buf)])
		if errors.Is(err, ring.ErrClosed) {
			return count, nil
		}
		if err != nil {
			return count, err
		}
		for _, v := range buf[:n] {
			p, i := int64(v>>itemShift), int64(v&(1<<itemShift-1))
			if p >= int64(a.NProd) || i >= a.N {
				return count, fmt.Errorf("impossible item %#x", v)
			}
			if i <= last[p] {
				return count, fmt.Errorf("producer %d: item %d after %d", p, i, last[p])
			}
			last[p] = i
			(*atomic.Uint32)(unsafe.Pointer(&seen[p*a.N+i])).Add(1)
			count++
		}
	}
}

func runMPMCStress(t *testing.T, nProd, nCons int, capacity int, batch int32, div int64) {
	total := int64(stressItems()) / div
	per := total / int64(nProd)
	total = per * int64(nProd)
	r := newRegion(t, 8<<20+total*4)
	q, err := ring.NewMPMC[uint64](r, capacity)
	if err != nil {
		t.Fatal(err)
	}
	seen, err := shm.NewArray[uint32](r, int(total))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	arg := mpmcArg{Ring: q.Handle(), Seen: seen.Handle(), N: per, Batch: batch, NProd: int32(nProd)}
	var cons []*spawn.Process[int64]
	for range nCons {
		p, err := mpmcConsume.Start(ctx, arg, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		cons = append(cons, p)
	}
	var prods []*spawn.Process[int64]
	for i := range nProd {
		a := arg
		a.ID = uint64(i)
		p, err := mpmcProduce.Start(ctx, a, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		prods = append(prods, p)
	}
	for i, p := range prods {
		if n, err := p.Wait(ctx); err != nil || n != per {
			t.Fatalf("producer %d = %d, %v", i, n, err)
		}
	}
	q.Close()
	var got int64
	for i, p := range cons {
		n, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("consumer %d: %v", i, err)
		}
		got += n
	}
	if got != total {
		t.Fatalf("consumers received %d items, want %d", got, total)
	}
	for i, c := range seen.Slice() {
		if c != 1 {
			t.Fatalf("item %d (producer %d, #%d) received %d times", i, int64(i)/per, int64(i)%per, c)
		}
	}
}

func TestMPMCStress(t *testing.T) {
	for _, c := range []struct {
		p, c, capacity int
		batch          int32
		div            int64 // fewer items for the slow, always-blocking cases
	}{
		{1, 1, 1000, 0, 1},
		{2, 2, 1024, 0, 1},
		{2, 2, 256, 32, 1},
		{4, 1, 4096, 16, 1},
		{4, 1, 2, 0, 20}, // full and empty all the time: every put and get may sleep
	} {
		t.Run(fmt.Sprintf("%dP%dC/cap=%d/batch=%d", c.p, c.c, c.capacity, c.batch), func(t *testing.T) {
			runMPMCStress(t, c.p, c.c, c.capacity, c.batch, c.div)
		})
	}
}

type crashArg struct {
	Ring shm.Handle
	Flag shm.Handle // Value[uint32]: set to 1 once inside the claim
	N    int64      // items to push (or pop) normally first
}

// mpmcDieInPush pushes N items, then claims one more and stops before
// publishing it, waiting to be killed.
var mpmcDieInPush = spawn.Register("ring.mpmcDieInPush", func(ctx context.Context, a crashArg) (int64, error) {
	q, err := ring.OpenMPMC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	flag, err := shm.OpenValue[atomic.Uint32](a.Flag)
	if err != nil {
		return 0, err
	}
	for i := range a.N {
		if err := q.Push(ctx, 1<<itemShift|uint64(i)); err != nil {
			return i, err
		}
	}
	ring.SetMPMCTestHooks(func() {
		flag.Ptr().Store(1)
		time.Sleep(time.Hour)
	}, nil)
	return a.N, q.Push(ctx, 1<<itemShift|uint64(a.N))
})

// mpmcDieInPop claims one item and stops before releasing it.
var mpmcDieInPop = spawn.Register("ring.mpmcDieInPop", func(ctx context.Context, a crashArg) (int64, error) {
	q, err := ring.OpenMPMC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	flag, err := shm.OpenValue[atomic.Uint32](a.Flag)
	if err != nil {
		return 0, err
	}
	ring.SetMPMCTestHooks(nil, func() {
		flag.Ptr().Store(1)
		time.Sleep(time.Hour)
	})
	_, err = q.Pop(ctx)
	return 0, err
})

func waitFlag(t *testing.T, f *shm.Value[atomic.Uint32]) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for f.Ptr().Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("child never reached its claim")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMPMCProducerKilledInClaim: a producer SIGKILLed between claiming a
// slot and publishing it leaves a hole; consumers skip it within a bounded
// time and every other item arrives exactly once.
func TestMPMCProducerKilledInClaim(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewMPMC[uint64](r, 64)
	if err != nil {
		t.Fatal(err)
	}
	flag, err := shm.NewValue[atomic.Uint32](r)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	const before = 10
	p, err := mpmcDieInPush.Start(ctx, crashArg{Ring: q.Handle(), Flag: flag.Handle(), N: before}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	waitFlag(t, flag)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait(ctx)
	// Items from a live producer queue up behind the hole.
	const after = 30
	for i := range after {
		if err := q.Push(ctx, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := range before {
		v, err := q.Pop(ctx)
		if err != nil || v != 1<<itemShift|uint64(i) {
			t.Fatalf("Pop = %#x, %v; want the dead producer's published item %d", v, err, i)
		}
	}
	for i := range after {
		v, err := q.Pop(ctx)
		if err != nil || v != uint64(i) {
			t.Fatalf("Pop = %#x, %v; want %d (after the hole)", v, err, i)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("consumers were held up %v by the dead producer's hole", d)
	} else {
		t.Logf("recovered from the hole in %v (stall timeout %v)", d, ring.DefaultStallTimeout)
	}
	if _, err := q.TryPop(); !errors.Is(err, ring.ErrEmpty) {
		t.Fatalf("TryPop after draining = %v, want ErrEmpty (the hole delivers nothing)", err)
	}
	// The ring keeps working across many laps.
	for i := range 1000 {
		if err := q.Push(ctx, uint64(i)); err != nil {
			t.Fatal(err)
		}
		if v, err := q.Pop(ctx); err != nil || v != uint64(i) {
			t.Fatalf("lap test: %d, %v", v, err)
		}
	}
}

// TestMPMCConsumerKilledInClaim: a consumer SIGKILLed between claiming and
// releasing a slot loses that one item; producers recycle the slot and
// nothing else is lost or stuck.
func TestMPMCConsumerKilledInClaim(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewMPMC[uint64](r, 8)
	if err != nil {
		t.Fatal(err)
	}
	flag, err := shm.NewValue[atomic.Uint32](r)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	p, err := mpmcDieInPop.Start(ctx, crashArg{Ring: q.Handle(), Flag: flag.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Push(ctx, 1000); err != nil { // the item the child will take and lose
		t.Fatal(err)
	}
	waitFlag(t, flag)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait(ctx)
	const n = 50 // many laps over the dead consumer's slot
	done := make(chan error, 1)
	go func() {
		c, err := ring.OpenMPMC[uint64](q.Handle())
		if err != nil {
			done <- err
			return
		}
		for i := range n {
			v, err := c.Pop(ctx)
			if err != nil || v != uint64(i) {
				done <- fmt.Errorf("Pop = %d, %v; want %d", v, err, i)
				return
			}
		}
		done <- nil
	}()
	start := time.Now()
	for i := range n {
		if err := q.Push(ctx, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("producers were held up %v by the dead consumer", d)
	}
}

// TestMPMCProducerKilledMidStream: one of three producers is SIGKILLed at
// an arbitrary moment while the ring is busy (small, so producers often
// wait). The consumer never hangs; it receives every item of the live
// producers exactly once and in order, and of the dead one a gap-free
// prefix (what it published before dying), nothing torn or repeated.
func TestMPMCProducerKilledMidStream(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewMPMC[uint64](r, 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	const live = 100_000
	var prods []*spawn.Process[int64]
	for id := range 3 {
		n := int64(live)
		if id == 2 {
			n = 1 << 30 // the victim never finishes
		}
		p, err := mpmcProduce.Start(ctx, mpmcArg{Ring: q.Handle(), ID: uint64(id), N: n, Batch: 8, NProd: 3}, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Kill()
		prods = append(prods, p)
	}
	next := make([]uint64, 3)
	liveDone := make(chan error, 1)
	var killedAt time.Time
	for total := 0; ; total++ {
		if total == 20_000 {
			prods[2].Kill()
			killedAt = time.Now()
			// Close once the live producers are done; the consumer then
			// drains and gets ErrClosed.
			go func() {
				var err error
				for _, p := range prods[:2] {
					if _, err = p.Wait(ctx); err != nil {
						break
					}
				}
				q.Close()
				liveDone <- err // after Close: the test unmaps the region once it has this
			}()
		}
		v, err := q.Pop(ctx)
		if errors.Is(err, ring.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatalf("Pop after %d items: %v (next %v)", total, err, next)
		}
		id, i := v>>itemShift, v&(1<<itemShift-1)
		if id > 2 || i != next[id] {
			t.Fatalf("item %#x: producer %d's next item is %d", v, id, next[id])
		}
		next[id]++
	}
	if err := <-liveDone; err != nil {
		t.Fatal(err)
	}
	if next[0] != live || next[1] != live {
		t.Fatalf("live producers delivered %d and %d items, want %d each", next[0], next[1], live)
	}
	t.Logf("the killed producer delivered %d items; drained %v after the kill", next[2], time.Since(killedAt))
}
