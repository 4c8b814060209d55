package shm_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func newHeap(t testing.TB, size int64) *shm.Heap {
	t.Helper()
	r := newRegion(t, size+4096)
	h, err := shm.NewHeap(r, size)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHeapAllocFreeReuse(t *testing.T) {
	h := newHeap(t, 1<<20)
	seen := map[int64]bool{}
	for _, n := range []int64{1, 15, 16, 17, 100, 1000, 4096, 100000} {
		off, err := h.Alloc(n)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", n, err)
		}
		if off%16 != 0 || seen[off] {
			t.Fatalf("Alloc(%d) = %d: misaligned or repeated", n, off)
		}
		seen[off] = true
		c, err := h.Cap(off)
		if err != nil || c < n || c > n+n/4+32 {
			t.Fatalf("Cap(Alloc(%d)) = %d, %v", n, c, err)
		}
		b, err := h.Bytes(off, c)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range b {
			if x != 0 {
				t.Fatalf("Alloc(%d): byte %d = %d, want 0", n, i, x)
			}
		}
		for i := range b {
			b[i] = 0xAB
		}
		if err := h.Free(off); err != nil {
			t.Fatalf("Free: %v", err)
		}
		if err := h.Free(off); !errors.Is(err, shm.ErrFree) {
			t.Fatalf("second Free = %v, want ErrFree", err)
		}
		again, err := h.Alloc(n)
		if err != nil || again != off {
			t.Fatalf("Alloc after Free = %d, %v; want the freed block %d back", again, err, off)
		}
		b, _ = h.Bytes(again, c)
		for i, x := range b {
			if x != 0 {
				t.Fatalf("reused block byte %d = %#x, want 0", i, x)
			}
		}
	}
	for _, bad := range []int64{0, 8, 17, 1 << 19, 1 << 30, -16} {
		if err := h.Free(bad); !errors.Is(err, shm.ErrFree) {
			t.Fatalf("Free(%d) = %v, want ErrFree", bad, err)
		}
	}
	for _, bad := range []int64{0, -1, shm.MaxHeapAlloc + 1} {
		if _, err := h.Alloc(bad); !errors.Is(err, shm.ErrSize) {
			t.Fatalf("Alloc(%d) = %v, want ErrSize", bad, err)
		}
	}
}

func TestHeapFullThenFreeThenAgain(t *testing.T) {
	h := newHeap(t, 64<<10)
	var offs []int64
	for {
		off, err := h.Alloc(100)
		if errors.Is(err, shm.ErrNoSpace) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	st, _ := h.Stats()
	if len(offs) < 300 || st.Failures != 1 || st.InUse != st.Carved || st.Left >= 144 {
		t.Fatalf("filled with %d blocks, stats %+v", len(offs), st)
	}
	if _, err := h.Alloc(1 << 12); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("Alloc on a full heap = %v, want ErrNoSpace", err)
	}
	// A smaller request is served by a free block of a larger class.
	if err := h.Free(offs[7]); err != nil {
		t.Fatal(err)
	}
	small, err := h.Alloc(40)
	if err != nil || small != offs[7] {
		t.Fatalf("Alloc(40) with one free 128-byte block = %d, %v; want that block", small, err)
	}
	if c, _ := h.Cap(small); c != 112 {
		t.Fatalf("Cap = %d, want the larger block's 112", c)
	}
	if _, err := h.Alloc(20); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("Alloc(20) = %v, want ErrNoSpace (no free block left)", err)
	}
	for _, off := range offs {
		if err := h.Free(off); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = h.Stats()
	if st.InUse != 0 || st.Allocs != st.Frees {
		t.Fatalf("after freeing all, stats %+v", st)
	}
	for range offs {
		if _, err := h.Alloc(100); err != nil {
			t.Fatalf("Alloc after freeing all: %v", err)
		}
	}
}

// churn allocates and frees blocks of random sizes, stamping each with a
// pattern of (id, serial) and checking it before the free: two owners of
// one block would overwrite each other's stamp.
func churn(h *shm.Heap, id uint64, rounds int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, id))
	type held struct {
		off, n int64
		stamp  uint64
	}
	var live []held
	check := func(x held) error {
		b, err := h.Bytes(x.off, x.n)
		if err != nil {
			return err
		}
		for i := int64(0); i+8 <= x.n; i += 8 {
			if got := binary.LittleEndian.Uint64(b[i:]); got != x.stamp {
				return fmt.Errorf("block %d word %d = %#x, want %#x: two owners", x.off, i, got, x.stamp)
			}
		}
		return nil
	}
	for i := range rounds {
		if len(live) > 0 && (len(live) > 64 || rng.IntN(2) == 0) {
			j := rng.IntN(len(live))
			x := live[j]
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
			if err := check(x); err != nil {
				return err
			}
			if err := h.Free(x.off); err != nil {
				return err
			}
			continue
		}
		n := int64(8 + rng.IntN(300)&^7)
		off, err := h.Alloc(n)
		if errors.Is(err, shm.ErrNoSpace) {
			continue
		}
		if err != nil {
			return err
		}
		x := held{off, n, id<<40 | uint64(i)}
		b, err := h.Bytes(off, n)
		if err != nil {
			return err
		}
		for k := int64(0); k+8 <= n; k += 8 {
			binary.LittleEndian.PutUint64(b[k:], x.stamp)
		}
		live = append(live, x)
	}
	for _, x := range live {
		if err := check(x); err != nil {
			return err
		}
		if err := h.Free(x.off); err != nil {
			return err
		}
	}
	return nil
}

func TestHeapConcurrentGoroutines(t *testing.T) {
	h := newHeap(t, 1<<20)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() { errs <- churn(h, uint64(g+1), 20000, 1) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := h.Stats(); st.InUse != 0 {
		t.Fatalf("after all frees, stats %+v", st)
	}
}

type churnArg struct {
	Heap   shm.Handle
	ID     uint64
	Rounds int64
	Ready  shm.Handle // Value[uint32] the child sets once it churns
}

var heapChurn = spawn.Register("shm.heapChurn", func(ctx context.Context, a churnArg) (int64, error) {
	h, err := shm.OpenHeap(a.Heap)
	if err != nil {
		return 0, err
	}
	if !a.Ready.IsZero() {
		v, err := shm.OpenValue[uint32](a.Ready)
		if err != nil {
			return 0, err
		}
		v.Store(1)
	}
	var i int64
	for ; a.Rounds < 0 || i < a.Rounds; i++ {
		if err := churn(h, a.ID, 1000, uint64(i)); err != nil {
			return i, err
		}
	}
	return i * 1000, nil
})

func TestHeapAcrossProcesses(t *testing.T) {
	h := newHeap(t, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ps []*spawn.Process[int64]
	for id := range uint64(3) {
		p, err := heapChurn.Start(ctx, churnArg{Heap: h.Handle(), ID: id + 1, Rounds: 10}, spawn.Share(h.Region()))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := churn(h, 9, 10000, 2); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if n, err := p.Wait(ctx); err != nil || n != 10000 {
			t.Fatalf("child churned %d rounds, %v", n, err)
		}
	}
	if st, _ := h.Stats(); st.InUse != 0 || st.Allocs != st.Frees {
		t.Fatalf("after all frees, stats %+v", st)
	}
}

// TestHeapSurvivesKilledProcesses kills a churning child again and again,
// at random moments, while the parent churns too. The heap must stay
// consistent: the parent never sees a block owned twice, and leaks are
// bounded by what the dead children held.
func TestHeapSurvivesKilledProcesses(t *testing.T) {
	h := newHeap(t, 4<<20)
	r := h.Region()
	ready, err := shm.NewValue[uint32](r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for k := range rounds {
		ready.Store(0)
		p, err := heapChurn.Start(ctx, churnArg{Heap: h.Handle(), ID: uint64(k + 1), Rounds: -1, Ready: ready.Handle()}, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		for v, _ := ready.Load(); v == 0; v, _ = ready.Load() {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if err := churn(h, 100+uint64(k), 2000, uint64(k)); err != nil {
			t.Fatal(err)
		}
		p.Kill()
		p.Wait(ctx)
	}
	if err := churn(h, 999, 20000, 7); err != nil {
		t.Fatal(err)
	}
	st, _ := h.Stats()
	t.Logf("after %d kills: %+v", rounds, st)
	// Each dead child held at most 65 blocks of at most 320 bytes.
	if st.InUse > int64(rounds)*66*320 {
		t.Fatalf("%d bytes leaked by %d kills", st.InUse, rounds)
	}
}

// BenchmarkHeap: one Alloc and one Free of a 64-byte block, by 1 goroutine
// and by 2 at once (the same free list, compare-and-swap contention).
func BenchmarkHeap(b *testing.B) {
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("op=alloc-free/size=64/par=%d", par), func(b *testing.B) {
			b.ReportAllocs()
			h := newHeap(b, 1<<20)
			var wg sync.WaitGroup
			b.ResetTimer()
			for range par {
				wg.Go(func() {
					for range b.N {
						off, err := h.Alloc(64)
						if err != nil {
							b.Error(err)
							return
						}
						if err := h.Free(off); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestHeapFreeListScribbled: a free list another process wrote over (a
// head naming no block, a block whose next names itself) costs one Alloc
// ErrCorrupt, not every later Alloc of its size class: the list is dropped
// (its blocks leak) and the class is carved afresh.
func TestHeapFreeListScribbled(t *testing.T) {
	h := newHeap(t, 64<<10)
	blk := h.Block().Bytes()
	// heapHeader.heads[0], the class of 1 to 16 bytes, names offset 80:
	// no carved block.
	const head0 = 192
	binary.LittleEndian.PutUint64(blk[head0:], 5)
	if _, err := h.Alloc(16); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Alloc from a scribbled head: %v, want ErrCorrupt", err)
	}
	if _, err := h.Alloc(16); err != nil {
		t.Fatalf("the next Alloc: %v", err)
	}
	// A cycle: a free block whose next names itself.
	a, err := h.Alloc(16)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Free(a); err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint64(blk[a-8:], uint64(a-16)) // blockHeader.next
	if got, err := h.Alloc(16); err != nil || got != a {
		t.Fatalf("Alloc = %d, %v, want the freed %d", got, err, a)
	}
	if _, err := h.Alloc(16); !errors.Is(err, shm.ErrCorrupt) {
		t.Fatalf("Alloc of a block in use through a cycle: %v, want ErrCorrupt", err)
	}
	for i := range 3 {
		if got, err := h.Alloc(16); err != nil || got == a {
			t.Fatalf("Alloc %d after the cycle = %d, %v", i, got, err)
		}
	}
}
