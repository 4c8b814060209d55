package shared_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

type stressArg struct {
	Dict shared.Handle
	ID   int
	Ops  int
	Seed uint64
}

type stressResult struct {
	Model      map[string]string // what this worker's keys must hold at the end
	Increments int64
}

// stressValue describes itself, so any reader can check it is whole.
func stressValue(id, k, seq int, rng *rand.Rand) string {
	head := fmt.Sprintf("%d/%d/%d|", id, k, seq)
	return head + strings.Repeat(string(rune('a'+seq%26)), rng.IntN(300))
}

func checkStressValue(key, v string) error {
	head, pad, ok := strings.Cut(v, "|")
	if !ok || !strings.HasPrefix(key, strings.SplitN(head, "/", 3)[0]+"/") {
		return fmt.Errorf("key %s holds %.40q: not its own value", key, v)
	}
	var id, k, seq int
	if _, err := fmt.Sscanf(head, "%d/%d/%d", &id, &k, &seq); err != nil || key != fmt.Sprintf("%d/%d", id, k) {
		return fmt.Errorf("key %s holds %.40q: %v", key, v, err)
	}
	if strings.Trim(pad, string(rune('a'+seq%26))) != "" {
		return fmt.Errorf("key %s holds a torn value %.60q", key, v)
	}
	return nil
}

// stressWorker does random set/get/delete on its own keys, checking every
// read against its model, reads other workers' keys (checking only that
// they are whole), and increments a shared counter.
var stressWorker = spawn.Register("shared.stressWorker", func(ctx context.Context, a stressArg) (stressResult, error) {
	d, err := shared.OpenDict[string, string](a.Dict)
	if err != nil {
		return stressResult{}, err
	}
	rng := rand.New(rand.NewPCG(a.Seed, uint64(a.ID)))
	model := map[string]string{}
	var incs int64
	for seq := range a.Ops {
		k := rng.IntN(200)
		key := fmt.Sprintf("%d/%d", a.ID, k)
		switch op := rng.IntN(20); {
		case op < 9:
			v := stressValue(a.ID, k, seq, rng)
			if err := d.Set(key, v); err != nil {
				return stressResult{}, err
			}
			model[key] = v
		case op < 15:
			v, ok, err := d.Get(key)
			if err != nil {
				return stressResult{}, err
			}
			if want, had := model[key]; ok != had || v != want {
				return stressResult{}, fmt.Errorf("worker %d op %d: Get(%s) = %.40q, %v; want %.40q, %v", a.ID, seq, key, v, ok, want, had)
			}
		case op < 18:
			ok, err := d.Delete(key)
			if err != nil {
				return stressResult{}, err
			}
			if _, had := model[key]; ok != had {
				return stressResult{}, fmt.Errorf("worker %d: Delete(%s) = %v, model says %v", a.ID, key, ok, had)
			}
			delete(model, key)
		case op < 19:
			other := fmt.Sprintf("%d/%d", rng.IntN(4), k)
			v, ok, err := d.Get(other)
			if err != nil {
				return stressResult{}, err
			}
			if ok {
				if err := checkStressValue(other, v); err != nil {
					return stressResult{}, err
				}
			}
		default:
			if _, _, err := d.Update("counter", func(v string, _ bool) (string, bool) {
				var n int
				fmt.Sscan(v, &n)
				return fmt.Sprint(n + 1), true
			}); err != nil {
				return stressResult{}, err
			}
			incs++
		}
	}
	return stressResult{Model: model, Increments: incs}, nil
})

func TestStressFourProcesses(t *testing.T) {
	m := newManager(t, 16<<20)
	d := must[*shared.Dict[string, string]](t)(shared.NewDict[string, string](m.Heap()))
	ctx := ctxT(t, 50*time.Second)
	ops := 20000
	var ps []*spawn.Process[stressResult]
	for id := range 4 {
		p, err := stressWorker.Start(ctx, stressArg{Dict: d.Handle(), ID: id, Ops: ops, Seed: 42}, spawn.Share(m.Region()))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	union := map[string]string{}
	var incs int64
	for _, p := range ps {
		res, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range res.Model {
			union[k] = v
		}
		incs += res.Increments
	}
	// The checker: the dict holds exactly the union of the models.
	seen := 0
	err := d.Range(func(k, v string) bool {
		if k == "counter" {
			if v != fmt.Sprint(incs) {
				t.Errorf("counter = %s, want %d", v, incs)
			}
			return true
		}
		seen++
		if union[k] != v {
			t.Errorf("%s = %.40q, want %.40q", k, v, union[k])
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(union) || d.Len() != len(union)+1 {
		t.Fatalf("dict holds %d keys (Len %d), the models %d", seen, d.Len(), len(union))
	}
	for k, v := range union {
		if got, ok, err := d.Get(k); err != nil || !ok || got != v {
			t.Fatalf("Get(%s) = %.40q, %v, %v", k, got, ok, err)
		}
	}
	st, _ := m.Stats()
	t.Logf("%d ops by 4 processes, %d keys at the end, %d increments; heap %+v", 4*ops, len(union), incs, st)
}

type crashArg struct {
	Dict, List shared.Handle
	Ready      shm.Handle
	Seed       uint64
}

// crashValue is seq (8 bytes) then n copies of byte(seq): a torn or mixed
// value shows.
func crashValue(seq uint64, n int) []byte {
	b := make([]byte, 8+n)
	binary.LittleEndian.PutUint64(b, seq)
	for i := 8; i < len(b); i++ {
		b[i] = byte(seq)
	}
	return b
}

func checkCrashValue(v []byte) error {
	if len(v) < 8 {
		return fmt.Errorf("value of %d bytes", len(v))
	}
	seq := binary.LittleEndian.Uint64(v)
	for i, b := range v[8:] {
		if b != byte(seq) {
			return fmt.Errorf("value %d is torn at byte %d", seq, i+8)
		}
	}
	return nil
}

// crasher updates a dict and a list as fast as it can until it is killed,
// with every changing method: the list's moves (Insert, PopAt, Remove) and
// the dict's SetAll and PopItem too.
var crasher = spawn.Register("shared.crasher", func(ctx context.Context, a crashArg) (struct{}, error) {
	d, err := shared.OpenDict[string, []byte](a.Dict)
	if err != nil {
		return struct{}{}, err
	}
	l, err := shared.OpenList[[]byte](a.List)
	if err != nil {
		return struct{}{}, err
	}
	ready, err := shm.OpenValue[uint32](a.Ready)
	if err != nil {
		return struct{}{}, err
	}
	ready.Store(1)
	rng := rand.New(rand.NewPCG(a.Seed, 1))
	for seq := uint64(a.Seed << 32); ; seq++ {
		key := fmt.Sprint("k", rng.IntN(64))
		switch op := rng.IntN(100); {
		case op < 50:
			err = d.Set(key, crashValue(seq, rng.IntN(2000)))
		case op < 65:
			_, err = d.Delete(key)
		case op < 75:
			_, _, err = d.Update(key, func(v []byte, ok bool) ([]byte, bool) { return crashValue(seq, 100+rng.IntN(500)), true })
		case op < 76:
			err = d.Clear()
		case op < 78:
			err = d.SetAll(maps.All(map[string][]byte{key: crashValue(seq, rng.IntN(300)), "k0": crashValue(seq, 9)}))
		case op < 79:
			if d.Len() > 32 {
				_, _, err = d.PopItem()
			}
		case op < 84:
			err = l.Append(crashValue(seq, rng.IntN(500)))
		case op < 88:
			err = l.Insert(rng.IntN(l.Len()+1), crashValue(seq, rng.IntN(500)))
		case op < 92:
			if l.Len() > 0 {
				err = l.Set(rng.IntN(l.Len()), crashValue(seq, rng.IntN(500)))
			}
		case op < 94:
			if n := l.Len(); n > 100 {
				_, err = l.PopAt(rng.IntN(n))
			}
		case op < 95:
			if n := l.Len(); n > 100 {
				var v []byte
				if v, err = l.Get(rng.IntN(n)); err == nil {
					err = l.Remove(v)
				}
			}
		default:
			if l.Len() > 100 {
				_, err = l.Pop()
			}
		}
		if err != nil {
			return struct{}{}, err
		}
	}
})

func checkCrashContainers(d *shared.Dict[string, []byte], l *shared.List[[]byte]) error {
	// Get first: it reads optimistically, and must fall back on the lock
	// (and its recovery) when the dead child left a change half done.
	for i := range 64 {
		v, ok, err := d.Get(fmt.Sprint("k", i))
		if err != nil {
			return err
		}
		if ok {
			if err := checkCrashValue(v); err != nil {
				return fmt.Errorf("Get(k%d): %v", i, err)
			}
		}
	}
	n := 0
	var bad error
	if err := d.Range(func(k string, v []byte) bool {
		n++
		if err := checkCrashValue(v); err != nil {
			bad = fmt.Errorf("%s: %v", k, err)
			return false
		}
		return true
	}); err != nil || bad != nil {
		return cmp.Or(err, bad)
	}
	if n != d.Len() {
		return fmt.Errorf("dict Len %d, Range saw %d", d.Len(), n)
	}
	items, err := l.Slice()
	if err != nil {
		return err
	}
	seen := map[uint64]int{} // every value written is new: a duplicate is a torn move
	for i, v := range items {
		if err := checkCrashValue(v); err != nil {
			return fmt.Errorf("list item %d: %v", i, err)
		}
		seq := binary.LittleEndian.Uint64(v)
		if j, dup := seen[seq]; dup {
			return fmt.Errorf("list items %d and %d are both value %d", j, i, seq)
		}
		seen[seq] = i
	}
	// Usable: a write and a read go through.
	if err := d.Set("probe", crashValue(7, 10)); err != nil {
		return err
	}
	if v, ok, err := d.Get("probe"); err != nil || !ok || checkCrashValue(v) != nil {
		return fmt.Errorf("probe = %v, %v, %v", v, ok, err)
	}
	if _, err := d.Delete("probe"); err != nil {
		return err
	}
	return nil
}

// TestKilledMidUpdate kills a process that updates a dict and a list as
// fast as it can, 100 times in a row, at random moments. After every kill
// the parent must get the lock (within the timeout: no deadlock), find
// every value whole, the counts right, and the containers usable.
func TestKilledMidUpdate(t *testing.T) {
	m := newManager(t, 32<<20)
	d := must[*shared.Dict[string, []byte]](t)(shared.NewDict[string, []byte](m.Heap()))
	l := must[*shared.List[[]byte]](t)(shared.NewList[[]byte](m.Heap()))
	d.SetTimeout(5 * time.Second)
	l.SetTimeout(5 * time.Second)
	ready := must[*shm.Value[uint32]](t)(shm.NewValue[uint32](m.Region()))
	ctx := ctxT(t, 50*time.Second)
	kills := 100
	if testing.Short() {
		kills = 20
	}
	before := shared.Recoveries()
	start := time.Now()
	var worst time.Duration
	for k := range kills {
		ready.Store(0)
		p, err := crasher.Start(ctx, crashArg{Dict: d.Handle(), List: l.Handle(), Ready: ready.Handle(), Seed: uint64(k + 1)}, spawn.Share(m.Region()))
		if err != nil {
			t.Fatal(err)
		}
		for v, _ := ready.Load(); v == 0; v, _ = ready.Load() {
			if ctx.Err() != nil {
				t.Fatal("child never got ready")
			}
			time.Sleep(100 * time.Microsecond)
		}
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		p.Kill()
		if _, err := p.Wait(ctx); err == nil || strings.Contains(err.Error(), "torn") {
			t.Fatalf("kill %d: child ended with %v", k, err)
		}
		t0 := time.Now()
		if err := checkCrashContainers(d, l); err != nil {
			t.Fatalf("after kill %d: %v", k, err)
		}
		worst = max(worst, time.Since(t0))
	}
	st, _ := m.Stats()
	t.Logf("%d kills in %v: %d locks taken over from dead holders, slowest check %v; dict %d entries, list %d items; heap %+v",
		kills, time.Since(start).Round(time.Millisecond), shared.Recoveries()-before, worst, d.Len(), l.Len(), st)
	if worst > 3*time.Second {
		t.Fatalf("recovering the lock took %v", worst)
	}
}

type listArg struct {
	List, Shareable, Record shared.Handle
	ID, N                   int
}

var listWorker = spawn.Register("shared.listWorker", func(ctx context.Context, a listArg) (struct{}, error) {
	l, err := shared.OpenList[string](a.List)
	if err != nil {
		return struct{}{}, err
	}
	sl, err := shared.OpenShareableList[int64](a.Shareable)
	if err != nil {
		return struct{}{}, err
	}
	rec, err := shared.OpenRecord[map[string]int](a.Record)
	if err != nil {
		return struct{}{}, err
	}
	for i := range a.N {
		if err := l.Append(fmt.Sprintf("%d-%d", a.ID, i)); err != nil {
			return struct{}{}, err
		}
		if _, err := sl.Update(a.ID, func(v int64) int64 { return v + 1 }); err != nil {
			return struct{}{}, err
		}
		if _, err := rec.Update(func(m map[string]int) map[string]int {
			if m == nil {
				m = map[string]int{}
			}
			m[fmt.Sprint("worker", a.ID)]++
			m["total"]++
			return m
		}); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

// TestListsAndRecordAcrossProcesses: three children append to one list,
// count in their own ShareableList slot and in a map held by a Record;
// nothing is lost and each child's items stay in its order.
func TestListsAndRecordAcrossProcesses(t *testing.T) {
	m := newManager(t, 8<<20)
	l := must[*shared.List[string]](t)(shared.NewList[string](m.Heap()))
	sl := must[*shared.ShareableList[int64]](t)(shared.NewShareableList(m.Heap(), []int64{0, 0, 0}))
	rec := must[*shared.Record[map[string]int]](t)(shared.NewRecord[map[string]int](m.Heap(), nil))
	ctx := ctxT(t, 50*time.Second)
	const n = 1000
	var ps []*spawn.Process[struct{}]
	for id := range 3 {
		p, err := listWorker.Start(ctx, listArg{l.Handle(), sl.Handle(), rec.Handle(), id, n}, spawn.Share(m.Region()))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	items := must[[]string](t)(l.Slice())
	next := [3]int{}
	for _, it := range items {
		var id, i int
		fmt.Sscanf(it, "%d-%d", &id, &i)
		if i != next[id] {
			t.Fatalf("item %q out of order, want %d-%d", it, id, next[id])
		}
		next[id]++
	}
	if len(items) != 3*n || next != [3]int{n, n, n} {
		t.Fatalf("%d items, per child %v", len(items), next)
	}
	if got := must[[]int64](t)(sl.Slice()); fmt.Sprint(got) != fmt.Sprint([]int64{n, n, n}) {
		t.Fatalf("shareable list = %v", got)
	}
	if c, err := sl.Count(n); c != 3 || err != nil {
		t.Fatalf("shareable list Count(%d) = %d, %v", n, c, err)
	}
	if i, err := sl.Index(n); i != 0 || err != nil {
		t.Fatalf("shareable list Index(%d) = %d, %v", n, i, err)
	}
	if _, err := sl.Index(-1); !errors.Is(err, shared.ErrNotFound) {
		t.Fatalf("shareable list Index(-1): %v, want ErrNotFound", err)
	}
	all := must[func(func(int, int64) bool)](t)(sl.All(ctx))
	for i, v := range all {
		if v != n || i > 2 {
			t.Fatalf("shareable list All: %d %d", i, v)
		}
	}
	if got := must[map[string]int](t)(rec.Load()); got["total"] != 3*n || got["worker1"] != n {
		t.Fatalf("record = %v", got)
	}
}

// TestSoak repeats the stress and crash tests for FORKLESS_SOAK (a
// duration such as "30s"); skipped when it is unset.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("FORKLESS_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("FORKLESS_SOAK not set")
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		if !t.Run("stress", TestStressFourProcesses) || !t.Run("kills", TestKilledMidUpdate) ||
			!t.Run("lists", TestListsAndRecordAcrossProcesses) {
			return
		}
	}
}

type byNameArg struct {
	Name string
	Dict shared.Handle
}

// readByName opens a named manager's region by its name, as an unrelated
// process would (nothing shared through spawn), and reads the dict.
var readByName = spawn.Register("shared.readByName", func(ctx context.Context, a byNameArg) (string, error) {
	r, err := shm.Open(a.Name)
	if err != nil {
		return "", err
	}
	defer r.Close()
	d, err := shared.OpenDict[string, string](a.Dict)
	if err != nil {
		return "", err
	}
	v, _, err := d.Get("greeting")
	if err == nil {
		err = d.Set("reply", "hello from "+fmt.Sprint(os.Getpid()))
	}
	return v, err
})

func TestNamedManagerOpenedByName(t *testing.T) {
	name := fmt.Sprintf("forkless-shared-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	m, err := shared.NewNamedManager(name, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d := must[*shared.Dict[string, string]](t)(shared.NewDict[string, string](m.Heap()))
	d.Set("greeting", "hi")
	// The handle travels as text, as it would to an unrelated process.
	h, err := shared.ParseHandle(d.Handle().String())
	if err != nil || h != d.Handle() {
		t.Fatalf("ParseHandle(%v) = %v, %v", d.Handle(), h, err)
	}
	for _, bad := range []string{"", "shared:1:1024:x", "shared:2:1024:1:0:0:" + m.Heap().Handle().String(), "shared:1:1024:1:0:0:forkless:1"} {
		if _, err := shared.ParseHandle(bad); !errors.Is(err, shared.ErrHandle) {
			t.Fatalf("ParseHandle(%q) = %v, want ErrHandle", bad, err)
		}
	}
	got, err := readByName.Run(ctxT(t, 30*time.Second), byNameArg{name, h})
	if err != nil || got != "hi" {
		t.Fatalf("child read %q, %v", got, err)
	}
	if v, ok, _ := d.Get("reply"); !ok || !strings.HasPrefix(v, "hello from ") {
		t.Fatalf("reply = %q, %v", v, ok)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open(name); err == nil {
		t.Fatal("the name outlived the manager's Close")
	}
}
