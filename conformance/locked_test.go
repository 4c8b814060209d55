package conformance_test

import (
	"context"
	"testing"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

type lockedArg struct {
	V, A shm.Handle
	N    int
}

// addLocked adds 1 to the Value and to every Array element N times, each
// under the object's own lock (Python: with v.get_lock(): v.value += 1).
var addLocked = spawn.Register("conformance.addLocked", func(ctx context.Context, a lockedArg) (struct{}, error) {
	v, err := fsync.OpenValue[int64](a.V)
	if err != nil {
		return struct{}{}, err
	}
	arr, err := fsync.OpenArray[int32](a.A)
	if err != nil {
		return struct{}{}, err
	}
	for range a.N {
		if err := v.Update(ctx, func(p *int64) { *p++ }); err != nil {
			return struct{}{}, err
		}
		if err := arr.Update(ctx, func(s []int32) {
			for i := range s {
				s[i]++
			}
		}); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

// TestValue_getobj_getlock: a Value with its lock (Python's default
// lock=True): get_lock is Mutex, get_obj is Ptr; several processes add
// under the lock and nothing is lost.
func TestValue_getobj_getlock(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	v := must[*fsync.Value[int64]](t)(fsync.NewValue(r, int64(5)))
	arr := must[*fsync.Array[int32]](t)(fsync.NewArrayOf(r, []int32{1, 2}))
	if v.Mutex() == nil || arr.Mutex() == nil || *v.Ptr() != 5 {
		t.Fatal("get_lock / get_obj")
	}
	const n, kids = 200, 3
	var ps []*spawn.Process[struct{}]
	for range kids {
		ps = append(ps, must[*spawn.Process[struct{}]](t)(addLocked.Start(ctx, lockedArg{v.Handle(), arr.Handle(), n}, spawn.Share(r))))
	}
	for range n {
		v.Mutex().Lock() // Python: with v.get_lock(): v.value += 1
		*v.Ptr() += 1
		v.Mutex().Unlock()
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if x, err := v.Load(ctx); x != 5+n*(kids+1) || err != nil {
		t.Fatalf("value %d, %v; want %d", x, err, 5+n*(kids+1))
	}
	if last, err := arr.Get(ctx, -1); last != 2+n*kids || err != nil {
		t.Fatalf("arr[-1] = %d, %v", last, err)
	}
}

// TestArray_getobj_getlock_obj: an Array with its lock; Slice is the
// unguarded object, Get/Set/Update hold the lock.
func TestArray_getobj_getlock_obj(t *testing.T) {
	ctx := tctx(t)
	r := region(t, 1<<20)
	arr := must[*fsync.Array[int32]](t)(fsync.NewArrayOf(r, []int32{1, 2, 3}))
	if err := arr.Set(ctx, -3, 10); err != nil || arr.Slice()[0] != 10 {
		t.Fatalf("Set(-3) = %v, %v", err, arr.Slice())
	}
	if !arr.Mutex().TryLock() {
		t.Fatal("the array's lock is held at rest")
	}
	arr.Mutex().Unlock()
	if arr.Len() != 3 {
		t.Fatal(arr.Len())
	}
}
