package shm_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type patternArg struct {
	Array shm.Handle
	Mul   uint64
}

// writePattern runs in a child: it fills a parent's array with i*Mul+1.
var writePattern = spawn.Register("shm.writePattern", func(ctx context.Context, a patternArg) (struct{}, error) {
	arr, err := shm.OpenArray[uint64](a.Array)
	if err != nil {
		return struct{}{}, err
	}
	for i := range arr.Slice() {
		arr.Slice()[i] = uint64(i)*a.Mul + 1
	}
	return struct{}{}, nil
})

func TestChildWritesParentReads(t *testing.T) {
	r := newRegion(t, 1<<20)
	arr, err := shm.NewArray[uint64](r, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writePattern.Run(testContext(t), patternArg{arr.Handle(), 977}, spawn.Share(r)); err != nil {
		t.Fatal(err)
	}
	for i, v := range arr.Slice() {
		if v != uint64(i)*977+1 {
			t.Fatalf("element %d = %d, want %d", i, v, uint64(i)*977+1)
		}
	}
}

type namedArg struct {
	Name  [64]byte
	Value shm.Handle
}

// openByName runs in a child that was given no descriptor: it finds the
// region by its name alone.
var openByName = spawn.Register("shm.openByName", func(ctx context.Context, a namedArg) (uint64, error) {
	name := strings.TrimRight(string(a.Name[:]), "\x00")
	r, err := shm.Open(name)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	v, err := shm.OpenValue[uint64](a.Value)
	if err != nil {
		return 0, err
	}
	old, _ := v.Load()
	v.Store(old * 2)
	return old, nil
})

func TestChildOpensNamedRegion(t *testing.T) {
	name := uniqueName(t)
	r, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v, _ := shm.NewValue[uint64](r)
	v.Store(21)
	var arg namedArg
	copy(arg.Name[:], name)
	arg.Value = v.Handle()
	old, err := openByName.Run(testContext(t), arg) // no spawn.Share: by name only
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := v.Load(); old != 21 || got != 42 {
		t.Fatalf("child saw %d and left %d, want 21 and 42", old, got)
	}
}

type allocArg struct {
	Child int
	Count int
}

// allocMany runs in several children at once: each allocates blocks from
// the same region, stamps every byte of each with its own mark, and returns
// the blocks' handles for the parent to check.
var allocMany = spawn.Register("shm.allocMany", func(ctx context.Context, a allocArg) ([]shm.Handle, error) {
	r, err := shm.Lookup(regionIDFromEnv())
	if err != nil {
		return nil, err
	}
	var hs []shm.Handle
	for i := range a.Count {
		b, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: int64(1 + (a.Child*7919+i*104729)%2000)})
		if err != nil {
			return nil, err
		}
		mark := byte(a.Child + 1)
		for j := range b.Bytes() {
			b.Bytes()[j] = mark
		}
		hs = append(hs, b.Handle())
	}
	return hs, nil
})

// The allocating children find their region by an id in the environment,
// which they inherit; any channel would do.
const envRegionID = "FORKLESS_TEST_REGION_ID"

func regionIDFromEnv() uint64 {
	id, _ := strconv.ParseUint(os.Getenv(envRegionID), 16, 64)
	return id
}

func TestChildrenAllocateConcurrently(t *testing.T) {
	const children, each = 4, 2000
	r := newRegion(t, 16<<20)
	t.Setenv(envRegionID, strconv.FormatUint(r.ID(), 16))
	ctx := testContext(t)
	var procs []*spawn.Process[[]shm.Handle]
	for c := range children {
		p, err := allocMany.Start(ctx, allocArg{Child: c, Count: each}, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	var blocks []shm.Block
	for c, p := range procs {
		hs, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			b, err := r.Bind(h, shm.KindBytes)
			if err != nil {
				t.Fatal(err)
			}
			for j, x := range b.Bytes() {
				if x != byte(c+1) {
					t.Fatalf("child %d's block at %d: byte %d = %d, another child wrote it", c, b.Offset(), j, x)
				}
			}
			blocks = append(blocks, b)
		}
	}
	if len(blocks) != children*each {
		t.Fatalf("%d blocks, want %d", len(blocks), children*each)
	}
	checkDisjoint(t, blocks)
	st, _ := r.Stats()
	if st.Objects != children*each {
		t.Fatalf("region counts %d objects, want %d", st.Objects, children*each)
	}
}

// touchArg tells a child which array to read and where to report.
type touchArg struct {
	Array shm.Handle
	Sync  shm.Handle // a Value[handshake]
}

type handshake struct {
	Ready atomic.Int32 // children that have touched every page
	Done  atomic.Int32 // set by the parent once it has measured
}

// touchAndHold reads every page of the array, so that the pages are mapped
// in this process too, then holds them until the parent has measured.
var touchAndHold = spawn.Register("shm.touchAndHold", func(ctx context.Context, a touchArg) (uint64, error) {
	arr, err := shm.OpenArray[byte](a.Array)
	if err != nil {
		return 0, err
	}
	hs, err := shm.OpenValue[handshake](a.Sync)
	if err != nil {
		return 0, err
	}
	var sum uint64
	s := arr.Slice()
	for i := 0; i < len(s); i += 4096 {
		sum += uint64(s[i])
	}
	hs.Ptr().Ready.Add(1)
	for hs.Ptr().Done.Load() == 0 {
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return sum, nil
})

// pss returns the proportional set size of pid in bytes: each shared page
// counts 1/N for each of the N processes mapping it.
func pss(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "Pss:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no Pss line for pid %d", pid)
	return 0
}

// TestZeroCopyMemory shares a 1 GiB array with two children that each
// touch every page, and checks that the three processes together use about
// 1 GiB, not 3: the children map the parent's pages, they do not copy them.
func TestZeroCopyMemory(t *testing.T) {
	const size = 1 << 30
	r := newRegion(t, size+4096)
	arr, err := shm.NewArray[byte](r, size)
	if err != nil {
		t.Fatal(err)
	}
	s := arr.Slice()
	for i := 0; i < len(s); i += 4096 {
		s[i] = byte(i >> 12)
	}
	hs, err := shm.NewValue[handshake](r)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	var procs []*spawn.Process[uint64]
	for range 2 {
		p, err := touchAndHold.Start(ctx, touchArg{arr.Handle(), hs.Handle()}, spawn.Share(r))
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		defer p.Kill()
	}
	deadline := time.Now().Add(30 * time.Second)
	for hs.Ptr().Ready.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("children did not touch the array in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	total := pss(t, os.Getpid())
	for _, p := range procs {
		total += pss(t, p.Pid())
	}
	hs.Ptr().Done.Store(1)
	for _, p := range procs {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("parent and 2 children sharing 1 GiB: Pss total %.2f GiB", float64(total)/(1<<30))
	if total > size*5/4 {
		t.Fatalf("Pss total %d bytes for a 1 GiB array in 3 processes: the array was copied", total)
	}
	if total < size*9/10 {
		t.Fatalf("Pss total %d bytes is less than the 1 GiB array itself: the measurement is broken", total)
	}
}
