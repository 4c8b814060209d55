package shared_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

type xy struct{ X, Y int32 }

type methodsArg struct {
	List, Dict, Points shared.Handle
}

type methodsResult struct {
	Index, Count, Missing int
	Popped                string
	ItemKey               int64
	ItemValue             string
	Seen                  []string // the list as the child's All saw it
}

// methodsChild runs issue 16's list and dict methods in another process on
// containers the parent made: list ["a" "b" "c" "b"], dict {1:"one"}.
var methodsChild = spawn.Register("shared.methodsChild", func(ctx context.Context, a methodsArg) (methodsResult, error) {
	var r methodsResult
	l, err := shared.OpenList[string](a.List)
	if err != nil {
		return r, err
	}
	d, err := shared.OpenDict[int64, string](a.Dict)
	if err != nil {
		return r, err
	}
	pts, err := shared.OpenDict[xy, string](a.Points)
	if err != nil {
		return r, err
	}
	steps := []func() error{
		func() error { return l.Insert(0, "start") },    // start a b c b
		func() error { return l.Insert(-1, "x") },       // start a b c x b
		func() error { return l.Insert(100, "end") },    // start a b c x b end
		func() error { return l.Insert(-100, "first") }, // first start a b c x b end
		func() error { v, err := l.PopAt(1); r.Popped = v; return err },
		func() error { return l.Remove("b") }, // first a c x b end
		func() error { return l.Extend(slices.Values([]string{"y", "z"})) },
		func() error { r.Index, err = l.Index("x"); return err },
		func() error { r.Count, err = l.Count("b"); return err },
		func() error {
			if _, err := l.Index("nope"); !errors.Is(err, shared.ErrNotFound) {
				return fmt.Errorf("Index of a missing value: %v", err)
			}
			r.Missing = -1
			return nil
		},
		func() error {
			all, err := l.All(ctx)
			for i, v := range all {
				r.Seen = append(r.Seen, fmt.Sprintf("%d %s", i, v))
			}
			return err
		},
		func() error { return d.SetAll(maps.All(map[int64]string{2: "two", 3: "three", 65: "A"})) },
		func() error { _, err := d.Delete(3); return err },
		func() error { return pts.SetAll(maps.All(map[xy]string{{1, 2}: "p12", {-1, 0}: "m10"})) },
		func() error {
			k, v, err := pts.PopItem()
			r.ItemKey, r.ItemValue = int64(k.X), v
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return r, fmt.Errorf("step %d: %w", i, err)
		}
	}
	return r, nil
})

// TestContainerMethodsAcrossProcesses: a child uses the list methods
// (Insert, PopAt, Remove, Extend, Index, Count, All) and the dict methods
// (SetAll, PopItem) on integer and struct keys; the parent sees every
// change through its own views, iterators included.
func TestContainerMethodsAcrossProcesses(t *testing.T) {
	m := newManager(t, 4<<20)
	l := must[*shared.List[string]](t)(shared.NewList[string](m.Heap()))
	d := must[*shared.Dict[int64, string]](t)(shared.NewDict[int64, string](m.Heap()))
	pts := must[*shared.Dict[xy, string]](t)(shared.NewDict[xy, string](m.Heap()))
	if err := l.Append("a", "b", "c", "b"); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(1, "one"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 30*time.Second)
	p, err := methodsChild.Start(ctx, methodsArg{l.Handle(), d.Handle(), pts.Handle()}, spawn.Share(m.Region()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"first", "a", "c", "x", "b", "end", "y", "z"}
	if got := must[[]string](t)(l.Slice()); !slices.Equal(got, want) {
		t.Fatalf("list = %q, want %q", got, want)
	}
	if r.Popped != "start" || r.Index != 3 || r.Count != 1 || r.Missing != -1 {
		t.Fatalf("child saw %+v", r)
	}
	if got := strings.Join(r.Seen, ","); got != "0 first,1 a,2 c,3 x,4 b,5 end,6 y,7 z" {
		t.Fatalf("child's List.All = %s", got)
	}
	vals := must[func(func(string) bool)](t)(l.Values(ctx))
	if got := slices.Collect(vals); !slices.Equal(got, want) {
		t.Fatalf("List.Values = %q", got)
	}
	all := must[func(func(int64, string) bool)](t)(d.All(ctx))
	if got := maps.Collect(all); !maps.Equal(got, map[int64]string{1: "one", 2: "two", 65: "A"}) {
		t.Fatalf("Dict.All = %v", got)
	}
	if v, ok, err := d.Get(65); err != nil || !ok || v != "A" {
		t.Fatalf("d.Get(65) = %q, %v, %v", v, ok, err)
	}
	keys := must[func(func(int64) bool)](t)(d.Keys(ctx))
	if got := slices.Sorted(keys); !slices.Equal(got, []int64{1, 2, 65}) {
		t.Fatalf("Dict.Keys = %v", got)
	}
	values := must[func(func(string) bool)](t)(d.Values(ctx))
	if got := slices.Sorted(values); !slices.Equal(got, []string{"A", "one", "two"}) {
		t.Fatalf("Dict.Values = %v", got)
	}
	// The child popped one of the two points; the other is left.
	left := map[xy]string{{1, 2}: "p12", {-1, 0}: "m10"}
	popped := xy{int32(r.ItemKey), 2}
	if r.ItemKey == -1 {
		popped = xy{-1, 0}
	}
	if left[popped] != r.ItemValue {
		t.Fatalf("PopItem gave %d, %q", r.ItemKey, r.ItemValue)
	}
	delete(left, popped)
	if got := maps.Collect(must[func(func(xy, string) bool)](t)(pts.All(ctx))); !maps.Equal(got, left) {
		t.Fatalf("points after PopItem = %v, want %v", got, left)
	}
	k, v, err := pts.PopItem()
	if err != nil || left[k] != v {
		t.Fatalf("PopItem = %v, %q, %v", k, v, err)
	}
	if _, _, err := pts.PopItem(); !errors.Is(err, shared.ErrEmpty) {
		t.Fatalf("PopItem of an empty dict: %v, want ErrEmpty", err)
	}
}

// TestListMoveKilledBetweenStores: Insert and PopAt publish a new slot
// array and a new length, two words; a process killed between the two
// stores must leave the old list or the new one. The next locker takes the
// dead holder's lock over and rolls the journaled change forward.
func TestListMoveKilledBetweenStores(t *testing.T) {
	m := newManager(t, 1<<20)
	l := must[*shared.List[string]](t)(shared.NewList[string](m.Heap()))
	if err := l.Append("a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at   int
		drop bool
		v    string
		want []string
	}{
		{1, false, "x", []string{"a", "x", "b", "c"}},
		{0, true, "", []string{"x", "b", "c"}},
		{3, false, "end", []string{"x", "b", "c", "end"}},
		{1, true, "", []string{"x", "c", "end"}},
	}
	for i, s := range steps {
		if err := shared.MoveDying(l, s.at, s.drop, s.v); err != nil {
			t.Fatal(err)
		}
		got, err := within(t, 10*time.Second, "Slice after a dead mover", func() result2 { v, err := l.Slice(); return result2{v, err} }).unpack()
		if err != nil || !slices.Equal(got, s.want) {
			t.Fatalf("step %d: list = %q, %v; want %q", i, got, err, s.want)
		}
		if l.Len() != len(s.want) {
			t.Fatalf("step %d: Len %d, want %d", i, l.Len(), len(s.want))
		}
	}
	if err := l.Insert(0, "y"); err != nil {
		t.Fatal(err)
	}
	if got := must[[]string](t)(l.Slice()); !slices.Equal(got, []string{"y", "x", "c", "end"}) {
		t.Fatalf("after the recoveries, list = %q", got)
	}
}

type result2 struct {
	v []string
	e error
}

func (r result2) unpack() ([]string, error) { return r.v, r.e }

type churnArg struct {
	Dict shared.Handle
	N    int
}

// churn sets the dict's ten keys n times each, with values of one size.
var churn = spawn.Register("shared.churn", func(ctx context.Context, a churnArg) (struct{}, error) {
	d, err := shared.OpenDict[int64, int64](a.Dict)
	if err != nil {
		return struct{}{}, err
	}
	for i := range a.N {
		if err := d.Set(int64(i%10), int64(i)); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

// TestSpareEntryLeaksNothing: a Set parks the entry it replaced as the
// dict's spare, for the next Set of any process; a child that churns the
// dict and exits leaves the heap holding what it held before, plus at most
// that one spare block.
func TestSpareEntryLeaksNothing(t *testing.T) {
	m := newManager(t, 1<<20)
	d := must[*shared.Dict[int64, int64]](t)(shared.NewDict[int64, int64](m.Heap()))
	for i := range int64(10) {
		if err := d.Set(i, i); err != nil {
			t.Fatal(err)
		}
	}
	before := must[shm.HeapStats](t)(m.Stats())
	ctx := ctxT(t, 30*time.Second)
	for range 3 {
		if _, err := churn.Run(ctx, churnArg{d.Handle(), 10000}, spawn.Share(m.Region())); err != nil {
			t.Fatal(err)
		}
	}
	after := must[shm.HeapStats](t)(m.Stats())
	if grown := after.InUse - before.InUse; grown > 64 {
		t.Fatalf("heap in use grew by %d bytes over 3 children's 30,000 Sets: %+v -> %+v", grown, before, after)
	}
	if after.Allocs-before.Allocs > 3 {
		t.Fatalf("%d heap allocations for 30,000 same-size Sets (the spare serves them)", after.Allocs-before.Allocs)
	}
	for i := range int64(10) {
		if v, ok, err := d.Get(i); err != nil || !ok || v%10 != i {
			t.Fatalf("Get(%d) = %d, %v, %v", i, v, ok, err)
		}
	}
}
