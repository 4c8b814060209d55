package shared_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
)

// FuzzScribbleLive is another process writing 8-byte words anywhere into a
// live heap (the heap's own header and free lists, container headers and
// their lock words, tables, entries, items) between the operations of this
// one, on a Dict, a gob-coded Dict, a List, a ShareableList, a Record and
// the heap itself, through every method (issue 16's list moves, SetAll,
// PopItem and iterators included). Every call must return, a value or an error, within its
// deadline, and never panic or fault: a call still running after
// liveDeadline crashes the fuzzing process, which records the input.
//
// The input is a program of 13-byte steps: an operation byte, a 4-byte
// offset into the heap block (taken modulo its size, rounded down to a
// word) and the 8-byte word written there before the operation.
func FuzzScribbleLive(f *testing.F) {
	f.Add([]byte{})
	step := func(op byte, off uint32, word uint64) []byte {
		b := []byte{op}
		b = binary.LittleEndian.AppendUint32(b, off)
		return binary.LittleEndian.AppendUint64(b, word)
	}
	f.Add(step(0, 0, 0))
	for op := range byte(liveOps) {
		var prog []byte
		for j := range 6 {
			prog = append(prog, step(op+byte(j), uint32(1024+int(op)*4099+j*8191), uint64(1)<<(8*j+int(op)%8))...)
		}
		f.Add(prog)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lv := newLive(t)
		defer lv.m.Close()
		blk := lv.m.Heap().Block().Bytes()
		for len(data) >= 13 {
			off := int(binary.LittleEndian.Uint32(data[1:])) % len(blk) &^ 7
			binary.LittleEndian.PutUint64(blk[off:], binary.LittleEndian.Uint64(data[5:]))
			lv.run(int(data[0]))
			data = data[13:]
		}
		for op := range liveOps {
			lv.run(op)
		}
	})
}

// liveDeadline bounds one call: the containers' lock waits end after
// 50 ms (SetTimeout) or when their context (100 ms) ends, and a lock
// word naming no process is taken over within a nap.
const liveDeadline = 5 * time.Second

type live struct {
	m   *shared.Manager
	d   *shared.Dict[string, []byte]
	g   *shared.Dict[string, map[string]int]
	l   *shared.List[string]
	sl  *shared.ShareableList[int64]
	rec *shared.Record[[]string]
	n   int
}

func newLive(t *testing.T) *live {
	m, err := shared.NewManager(128 << 10)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Heap()
	lv := &live{m: m}
	lv.d, err = shared.NewDict[string, []byte](h)
	if err == nil {
		lv.g, err = shared.NewDict[string, map[string]int](h)
	}
	if err == nil {
		lv.l, err = shared.NewList[string](h)
	}
	if err == nil {
		lv.sl, err = shared.NewShareableList(h, []int64{1, 2, 3})
	}
	if err == nil {
		lv.rec, err = shared.NewRecord(h, []string{"a", "b"})
	}
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	for _, c := range []interface{ SetTimeout(time.Duration) }{lv.d, lv.g, lv.l, lv.sl, lv.rec} {
		c.SetTimeout(50 * time.Millisecond)
	}
	for i := range 24 {
		lv.d.Set(fmt.Sprint("k", i), []byte(fmt.Sprint("value", i)))
		lv.g.Set(fmt.Sprint("g", i%5), map[string]int{"i": i})
		lv.l.Append(fmt.Sprint("item", i))
	}
	lv.d.Delete("k3")
	return lv
}

const liveOps = 19

// run does operation op, under a watchdog.
func (lv *live) run(op int) {
	lv.n++
	watchdog := time.AfterFunc(liveDeadline, func() {
		panic(fmt.Sprintf("FuzzScribbleLive: operation %d still running after %v", op%liveOps, liveDeadline))
	})
	defer watchdog.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	k := fmt.Sprint("k", lv.n%30)
	switch op % liveOps {
	case 0:
		lv.d.GetContext(ctx, k)
	case 1:
		lv.d.SetContext(ctx, k, []byte("new value"))
	case 2:
		lv.d.DeleteContext(ctx, k)
	case 3:
		lv.d.UpdateContext(ctx, k, func(v []byte, ok bool) ([]byte, bool) { return append(v, 'x'), len(v) < 64 })
	case 4:
		lv.d.RangeContext(ctx, func(string, []byte) bool { return true })
	case 5:
		lv.g.GetContext(ctx, fmt.Sprint("g", lv.n%5))
		lv.g.SetContext(ctx, fmt.Sprint("g", lv.n%7), map[string]int{"n": lv.n})
	case 6:
		lv.l.AppendContext(ctx, "appended")
	case 7:
		lv.l.GetContext(ctx, lv.n%30-5)
		lv.l.SetContext(ctx, lv.n%20, "set")
	case 8:
		lv.l.PopContext(ctx)
		lv.l.SliceContext(ctx)
	case 9:
		lv.sl.UpdateContext(ctx, lv.n%3, func(v int64) int64 { return v + 1 })
		lv.sl.SliceContext(ctx)
	case 10:
		lv.rec.UpdateContext(ctx, func(v []string) []string { return append(v[:min(len(v), 4)], "r") })
		lv.rec.LoadContext(ctx)
	case 11:
		h := lv.m.Heap()
		if off, err := h.Alloc(int64(1 + lv.n*37%3000)); err == nil {
			h.Cap(off)
			h.Free(off)
		}
		h.Stats()
	case 12:
		lv.d.CompareAndSwapContext(ctx, k, []byte("new value"), []byte("swapped"))
		lv.d.PopContext(ctx, fmt.Sprint("k", lv.n%7))
	case 13:
		if lv.n%5 == 0 {
			lv.d.ClearContext(ctx)
			lv.l.ClearContext(ctx)
		}
		lv.d.Len()
		lv.l.Len()
	case 14:
		shared.OpenDict[string, []byte](lv.d.Handle())
		shared.OpenList[string](lv.l.Handle())
		lv.m.Stats()
	case 15:
		lv.d.Get(k) // without a context: SetTimeout bounds it
		lv.l.Get(0)
	case 16:
		lv.l.InsertContext(ctx, lv.n%7-3, "inserted")
		lv.l.PopAtContext(ctx, lv.n%5-2)
		lv.l.RemoveContext(ctx, "item3")
	case 17:
		lv.l.IndexContext(ctx, "appended")
		lv.l.CountContext(ctx, "set")
		lv.l.All(ctx)
		lv.l.ExtendContext(ctx, slices.Values([]string{"e1", "e2"}))
	case 18:
		lv.d.SetAllContext(ctx, maps.All(map[string][]byte{k: []byte("all"), "k1": nil}))
		lv.d.PopItemContext(ctx)
		lv.d.All(ctx)
		lv.g.Keys(ctx)
	}
}
