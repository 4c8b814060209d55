package ring_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func newRegion(t testing.TB, size int64) *shm.Region {
	t.Helper()
	r, err := shm.New(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// stressItems is the number of items of the cross-process stress tests:
// millions normally, fewer under -short; FORKLESS_SOAK raises it.
func stressItems() int {
	if testing.Short() {
		return 200_000
	}
	if d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK")); err == nil && d > 0 {
		return 20_000_000
	}
	return 2_000_000
}

func TestSPSCFIFOAndEdges(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewSPSC[uint64](r, 5) // 8 slots, 5 items: the capacity stays exact
	if err != nil {
		t.Fatal(err)
	}
	if q.Cap() != 5 || q.Len() != 0 {
		t.Fatalf("Cap, Len = %d, %d", q.Cap(), q.Len())
	}
	if _, err := q.TryPop(); !errors.Is(err, ring.ErrEmpty) {
		t.Fatalf("TryPop on empty = %v, want ErrEmpty", err)
	}
	next, want := uint64(0), uint64(0)
	for round := range 100 { // wraps the 8 slots many times, at every phase
		for range round%5 + 1 {
			if err := q.TryPush(next); err != nil {
				t.Fatalf("round %d: TryPush = %v", round, err)
			}
			next++
		}
		if round%5 == 4 {
			if err := q.TryPush(999); !errors.Is(err, ring.ErrFull) {
				t.Fatalf("TryPush on full = %v, want ErrFull", err)
			}
			if n, err := q.PushBatch([]uint64{1, 2}); n != 0 || !errors.Is(err, ring.ErrFull) {
				t.Fatalf("PushBatch on full = %d, %v", n, err)
			}
		}
		if q.Len() != int(next-want) {
			t.Fatalf("Len = %d, want %d", q.Len(), next-want)
		}
		for want < next {
			v, err := q.TryPop()
			if err != nil || v != want {
				t.Fatalf("TryPop = %d, %v; want %d", v, err, want)
			}
			want++
		}
	}
	// Batches across the wrap, partial when nearly full.
	buf := make([]uint64, 7)
	for round := range 50 {
		vs := []uint64{next, next + 1, next + 2, next + 3, next + 4, next + 5, next + 6}
		n, err := q.PushBatch(vs)
		if err != nil || n != 5 {
			t.Fatalf("round %d: PushBatch of 7 into empty 5 = %d, %v", round, n, err)
		}
		next += uint64(n)
		k := round%4 + 1
		got, err := q.PopBatch(buf[:k])
		if err != nil || got != k {
			t.Fatalf("PopBatch = %d, %v", got, err)
		}
		for i := range got {
			if buf[i] != want {
				t.Fatalf("PopBatch item %d = %d, want %d", i, buf[i], want)
			}
			want++
		}
		got, _ = q.PopBatch(buf)
		for i := range got {
			if buf[i] != want {
				t.Fatalf("PopBatch item %d = %d, want %d", i, buf[i], want)
			}
			want++
		}
		if want != next {
			t.Fatalf("drained to %d, pushed %d", want, next)
		}
	}
}

func TestSPSCReserveCommitPeekRelease(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewSPSC[[4]uint32](r, 16)
	if err != nil {
		t.Fatal(err)
	}
	var next, want uint32
	for round := range 40 {
		s := q.Reserve(11)
		if len(s) == 0 {
			t.Fatalf("round %d: Reserve returned nothing on a non-full ring", round)
		}
		for i := range s {
			s[i] = [4]uint32{next, next, next, next}
			next++
		}
		if q.Len() != int(want-want) && round == 0 {
			t.Fatal("reserved slots visible before Commit")
		}
		q.Commit(len(s))
		for {
			p := q.Peek(5)
			if len(p) == 0 {
				break
			}
			for _, v := range p {
				if v != [4]uint32{want, want, want, want} {
					t.Fatalf("Peek = %v, want %d", v, want)
				}
				want++
			}
			q.Release(len(p))
		}
	}
	if want != next {
		t.Fatalf("read %d, wrote %d", want, next)
	}
}

func TestSPSCClose(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewSPSC[int32](r, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(3) {
		if err := q.TryPush(i); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if err := q.TryPush(9); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("TryPush after Close = %v, want ErrClosed", err)
	}
	for i := range int32(3) {
		v, err := q.Pop(testCtx(t))
		if err != nil || v != i {
			t.Fatalf("Pop after Close = %d, %v; want %d (drain)", v, err, i)
		}
	}
	if _, err := q.Pop(testCtx(t)); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Pop of drained closed ring = %v, want ErrClosed", err)
	}

	// A blocked Pop is woken by Close; a blocked Push too.
	q2, _ := ring.NewSPSC[int32](r, 1)
	errc := make(chan error, 2)
	go func() { _, err := q2.Pop(testCtx(t)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	q2.TryPush(1)
	if err := <-errc; err != nil {
		t.Fatalf("blocked Pop = %v", err)
	}
	go func() { _, err := q2.Pop(testCtx(t)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	q2.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ring.ErrClosed) {
			t.Fatalf("Pop woken by Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a blocked Pop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	q3, _ := ring.NewSPSC[int32](r, 1)
	if _, err := q3.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pop past its deadline = %v", err)
	}
}

func TestSPSCNoSyscallWhenNobodySleeps(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewSPSC[uint64](r, 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	before := futex.Syscalls()
	buf := make([]uint64, 16)
	for i := range 10000 {
		if err := q.Push(ctx, uint64(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.PushAll(ctx, buf[:3]); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Pop(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := q.PopSome(ctx, buf[:3]); err != nil {
			t.Fatal(err)
		}
	}
	if n := futex.Syscalls() - before; n != 0 {
		t.Fatalf("%d futex system calls with nobody asleep, want 0", n)
	}
}

type notPointerFree struct{ S string }

func TestSPSCBadInput(t *testing.T) {
	r := newRegion(t, 1<<20)
	for _, c := range []int{0, -1, -1 << 40, 1 << 40} {
		if _, err := ring.NewSPSC[uint64](r, c); !errors.Is(err, ring.ErrCapacity) {
			t.Errorf("NewSPSC(capacity %d) = %v, want ErrCapacity", c, err)
		}
	}
	if _, err := ring.NewSPSC[notPointerFree](r, 4); err == nil {
		t.Error("NewSPSC of a type with a string succeeded")
	}
	if _, err := ring.NewSPSC[struct{}](r, 4); err == nil {
		t.Error("NewSPSC of a zero-size type succeeded")
	}
	q, err := ring.NewSPSC[uint64](r, 8)
	if err != nil {
		t.Fatal(err)
	}
	h := q.Handle()
	if _, err := ring.OpenSPSC[uint32](h); !errors.Is(err, shm.ErrType) {
		t.Errorf("OpenSPSC[uint32] of a uint64 ring = %v, want shm.ErrType", err)
	}
	if _, err := ring.OpenSPSC[int64](h); !errors.Is(err, shm.ErrType) {
		t.Errorf("OpenSPSC[int64] of a uint64 ring = %v, want shm.ErrType", err)
	}
	if _, err := ring.OpenMPMC[uint64](h); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenMPMC of an SPSC handle = %v, want shm.ErrKind", err)
	}
	arr, _ := shm.NewArray[uint64](r, 8)
	if _, err := ring.OpenSPSC[uint64](arr.Handle()); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenSPSC of an array handle = %v, want shm.ErrKind", err)
	}
	// A forged handle: the right kind and type, another size.
	bad := h
	bad.Size += 64
	if _, err := ring.OpenSPSC[uint64](bad); err == nil {
		t.Error("OpenSPSC of a handle with a wrong size succeeded")
	}
	// Corrupt the header in place: the capacity word.
	b, err := r.Bind(h, ring.KindSPSC)
	if err != nil {
		t.Fatal(err)
	}
	b.Uint64(8).Store(1 << 30)
	if _, err := ring.OpenSPSC[uint64](h); !errors.Is(err, ring.ErrCorrupt) {
		t.Errorf("OpenSPSC of a ring with a corrupt capacity = %v, want ErrCorrupt", err)
	}
	b.Uint64(8).Store(8)
	b.Uint32(0).Store(0x12345678)
	if _, err := ring.OpenSPSC[uint64](h); !errors.Is(err, ring.ErrCorrupt) {
		t.Errorf("OpenSPSC of a ring with a bad magic = %v, want ErrCorrupt", err)
	}
}

type spscArg struct {
	Ring  shm.Handle
	N     int64
	Batch int32
}

type sumResult struct {
	Count int64
	Sum   uint64
	Xor   uint64
}

// spscProduce pushes 0..N-1, in batches of a varying size when Batch > 0.
var spscProduce = spawn.Register("ring.spscProduce", func(ctx context.Context, a spscArg) (int64, error) {
	q, err := ring.OpenSPSC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	if a.Batch <= 0 {
		for i := range a.N {
			if err := q.Push(ctx, uint64(i)); err != nil {
				return i, err
			}
		}
	} else {
		buf := make([]uint64, a.Batch)
		for i := int64(0); i < a.N; {
			k := min(int64(1+int(i)%int(a.Batch)), a.N-i)
			for j := range k {
				buf[j] = uint64(i + j)
			}
			if _, err := q.PushAll(ctx, buf[:k]); err != nil {
				return i, err
			}
			i += k
		}
	}
	return a.N, q.Close()
})

// spscConsume pops until the ring is closed and drained, checking order.
var spscConsume = spawn.Register("ring.spscConsume", func(ctx context.Context, a spscArg) (int64, error) {
	q, err := ring.OpenSPSC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	return consumeInOrder(ctx, q, a.Batch)
})

func consumeInOrder(ctx context.Context, q *ring.SPSC[uint64], batch int32) (int64, error) {
	var want uint64
	buf := make([]uint64, max(batch, 1))
	for {
		var n int
		var err error
		if batch <= 0 {
			var v uint64
			v, err = q.Pop(ctx)
			buf[0], n = v, 1
		} else {
			n, err = q.PopSome(ctx, buf[:1+int(want)%int(batch)])
		}
		if errors.Is(err, ring.ErrClosed) {
			return int64(want), nil
		}
		if err != nil {
			return int64(want), err
		}
		for _, v := range buf[:n] {
			if v != want {
				return int64(want), errors.New("item " + strconv.FormatUint(want, 10) + " arrived as " + strconv.FormatUint(v, 10))
			}
			want++
		}
	}
}

func TestSPSCStress1P1C(t *testing.T) {
	n := int64(stressItems())
	for _, c := range []struct {
		name         string
		capacity     int
		pBatch, cBat int32
	}{
		{"single", 1000, 0, 0},
		{"batch", 4096, 64, 100},
		{"tiny", 3, 2, 0}, // full and empty at every step
	} {
		t.Run(c.name, func(t *testing.T) {
			items := n
			if c.name == "tiny" {
				items = n / 10
			}
			r := newRegion(t, 1<<20)
			q, err := ring.NewSPSC[uint64](r, c.capacity)
			if err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			p, err := spscProduce.Start(ctx, spscArg{Ring: q.Handle(), N: items, Batch: c.pBatch}, spawn.Share(r))
			if err != nil {
				t.Fatal(err)
			}
			got, err := consumeInOrder(ctx, q, c.cBat)
			if err != nil {
				t.Fatal(err)
			}
			if sent, err := p.Wait(ctx); err != nil || sent != items {
				t.Fatalf("producer = %d, %v", sent, err)
			}
			if got != items {
				t.Fatalf("received %d items, want %d", got, items)
			}
		})
	}
	// And the other way round: the consumer in the child.
	t.Run("child-consumer", func(t *testing.T) {
		r := newRegion(t, 1<<20)
		q, err := ring.NewSPSC[uint64](r, 777)
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		p, err := spscConsume.Start(ctx, spscArg{Ring: q.Handle(), Batch: 33}, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]uint64, 50)
		for i := int64(0); i < n; {
			k := min(int64(len(buf)), n-i)
			for j := range k {
				buf[j] = uint64(i + j)
			}
			if _, err := q.PushAll(ctx, buf[:k]); err != nil {
				t.Fatal(err)
			}
			i += k
		}
		q.Close()
		if got, err := p.Wait(ctx); err != nil || got != n {
			t.Fatalf("consumer = %d, %v; want %d", got, err, n)
		}
	})
}

// spscForever pushes until killed.
var spscForever = spawn.Register("ring.spscForever", func(ctx context.Context, a spscArg) (int64, error) {
	q, err := ring.OpenSPSC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	buf := make([]uint64, 16)
	for i := uint64(0); ; i += 16 {
		for j := range buf {
			buf[j] = i + uint64(j)
		}
		if _, err := q.PushAll(ctx, buf); err != nil {
			return int64(i), err
		}
	}
})

// TestSPSCProducerKilled: a SIGKILLed producer leaves only published items
// behind (never a torn one); the consumer drains them in order, and Close
// from the parent (which saw the child die) ends the consumer's wait.
func TestSPSCProducerKilled(t *testing.T) {
	r := newRegion(t, 1<<20)
	q, err := ring.NewSPSC[uint64](r, 100)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	p, err := spscForever.Start(ctx, spscArg{Ring: q.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	// Consume for a while, then kill the producer mid-stream.
	var want uint64
	for want < 100_000 {
		v, err := q.Pop(ctx)
		if err != nil || v != want {
			t.Fatalf("Pop = %d, %v; want %d", v, err, want)
		}
		want++
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait(ctx)
	q.Close() // the parent saw its producer die
	for {
		v, err := q.Pop(ctx)
		if errors.Is(err, ring.ErrClosed) {
			break
		}
		if err != nil || v != want {
			t.Fatalf("Pop after the kill = %d, %v; want %d", v, err, want)
		}
		want++
	}
	if want < 100_000 {
		t.Fatalf("drained to %d", want)
	}
}

// spscFill pushes N items into a ring with room for them all and reports
// how many futex system calls it made: none, since nobody sleeps.
var spscFill = spawn.Register("ring.spscFill", func(ctx context.Context, a spscArg) (uint64, error) {
	q, err := ring.OpenSPSC[uint64](a.Ring)
	if err != nil {
		return 0, err
	}
	before := futex.Syscalls()
	for i := range a.N {
		if err := q.Push(ctx, uint64(i)); err != nil {
			return 0, err
		}
	}
	return futex.Syscalls() - before, nil
})

func TestSPSCNoSyscallAcrossProcesses(t *testing.T) {
	r := newRegion(t, 1<<20)
	const n = 10000
	q, err := ring.NewSPSC[uint64](r, n)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := spscFill.Run(testCtx(t), spscArg{Ring: q.Handle(), N: n}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Fatalf("the producer made %d futex calls with no consumer asleep, want 0", calls)
	}
	before := futex.Syscalls()
	for i := range uint64(n) {
		if v, err := q.Pop(testCtx(t)); err != nil || v != i {
			t.Fatalf("Pop = %d, %v", v, err)
		}
	}
	if d := futex.Syscalls() - before; d != 0 {
		t.Fatalf("the consumer made %d futex calls with no producer asleep, want 0", d)
	}
}
