//go:build linux

package spawn_test

import (
	"context"
	"encoding/gob"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// objects holds one of each shared object, as fields, behind pointers, in
// a slice and behind an interface: the child gets them bound.
type objects struct {
	Q     *queue.Queue
	Typed *queue.Of[int64]
	Pipe  *queue.Pipe
	Mu    *fsync.Mutex
	Done  *fsync.Event
	Count *shm.Value[int64]
	Arr   *shm.Array[int32]
	Dict  *shared.Dict[string, int64]
	More  []any
}

var useObjects = spawn.Register("spawn.useObjects", func(ctx context.Context, o objects) (string, error) {
	if err := o.Q.Put(ctx, []byte("hello")); err != nil {
		return "", err
	}
	if err := o.Typed.Put(ctx, 42); err != nil {
		return "", err
	}
	if err := o.Mu.Lock(); err != nil {
		return "", err
	}
	*o.Count.Ptr() += 1
	o.Mu.Unlock()
	o.Arr.Slice()[2] = 7
	if err := o.Dict.Set("child", 11); err != nil {
		return "", err
	}
	if err := o.Pipe.Send(ctx, []byte("ping")); err != nil {
		return "", err
	}
	l := o.More[0].(*shared.List[string])
	if err := l.Append("from child"); err != nil {
		return "", err
	}
	o.Done.Set()
	msg, err := o.Pipe.Recv(ctx)
	return string(msg), err
})

func init() { gobRegisterList() }

// TestSharedObjectsTravelAsArguments: Python's Process(target=f, args=(q,
// lock, ...)). The objects are fields of the argument, no region is passed
// with Share, and the child uses each of them bound; two regions (a plain
// one and a manager's heap) are found and shared.
func TestSharedObjectsTravelAsArguments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := shm.New(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, err := shared.NewManager(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var o objects
	var parentEnd *queue.Pipe
	o.Q = must(queue.New(r, queue.Config{Bytes: 64 << 10}))
	o.Typed = must(queue.NewOf[int64](r, queue.Config{Bytes: 64 << 10}, nil))
	parentEnd, o.Pipe, err = queue.NewPipe(r, queue.Config{Bytes: 64 << 10}, true)
	if err != nil {
		t.Fatal(err)
	}
	// Pipe ends watch their peer from a goroutine: close them before the
	// region is unmapped (deferred after it, so run before it).
	defer parentEnd.Close()
	defer o.Pipe.Close()
	o.Mu = must(fsync.NewMutex(r))
	o.Done = must(fsync.NewEvent(r))
	o.Count = must(shm.NewValue[int64](r))
	o.Arr = must(shm.NewArray[int32](r, 4))
	o.Dict = must(shared.NewDict[string, int64](m.Heap()))
	list := must(shared.NewList[string](m.Heap()))
	o.More = []any{list}

	p, err := useObjects.Start(ctx, o) // no spawn.Share
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := o.Q.Get(ctx); err != nil || string(msg) != "hello" {
		t.Fatalf("queue: %q, %v", msg, err)
	}
	if v, err := o.Typed.Get(ctx); err != nil || v != 42 {
		t.Fatalf("typed queue: %d, %v", v, err)
	}
	if msg, err := parentEnd.Recv(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("pipe: %q, %v", msg, err)
	}
	if err := o.Done.WaitContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := parentEnd.Send(ctx, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	got, err := p.Wait(ctx)
	if err != nil || got != "pong" {
		t.Fatalf("child: %q, %v", got, err)
	}
	if n, _ := o.Count.Load(); n != 1 {
		t.Errorf("value %d, want 1", n)
	}
	if o.Arr.Slice()[2] != 7 {
		t.Errorf("array %v", o.Arr.Slice())
	}
	if v, ok, err := o.Dict.Get("child"); err != nil || !ok || v != 11 {
		t.Errorf("dict: %d %v %v", v, ok, err)
	}
	if v, err := list.Get(0); err != nil || v != "from child" {
		t.Errorf("list: %q %v", v, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// relay passes the queue it was given on to a grandchild.
var relay = spawn.Register("spawn.relay", func(ctx context.Context, q *queue.Queue) (struct{}, error) {
	_, err := putHello.Run(ctx, q)
	return struct{}{}, err
})

var putHello = spawn.Register("spawn.putHello", func(ctx context.Context, q *queue.Queue) (struct{}, error) {
	return struct{}{}, q.Put(ctx, []byte("hello from "+spawn.CurrentProcess().Name))
})

// TestSharedObjectTravelsToGrandchild: the child passes the queue it got
// on; its region is shared again without a word from anyone.
func TestSharedObjectTravelsToGrandchild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := must(shm.New(1 << 20))
	defer r.Close()
	q := must(queue.New(r, queue.Config{Bytes: 64 << 10}))
	if _, err := relay.Run(ctx, q, spawn.Name("relay")); err != nil {
		t.Fatal(err)
	}
	msg, err := q.TryGet()
	if err != nil || !strings.HasPrefix(string(msg), "hello from Process-") || !strings.Contains(string(msg), ":") {
		t.Fatalf("got %q, %v: want a grandchild's hello", msg, err)
	}
}

var bindHandle = spawn.Register("spawn.bindHandle", func(ctx context.Context, h shm.Handle) (int64, error) {
	v, err := shm.OpenValue[int64](h)
	if err != nil {
		return 0, err
	}
	return v.Load()
})

// TestUnsharedHandleHint: a child that binds a handle whose region was not
// shared hears what to do, and the error is still shm.ErrNotAttached.
func TestUnsharedHandleHint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := must(shm.New(1 << 16))
	defer r.Close()
	v := must(shm.NewValue[int64](r))
	_, err := bindHandle.Run(ctx, v.Handle())
	if !errors.Is(err, shm.ErrNotAttached) || !strings.Contains(err.Error(), "spawn.Share") ||
		!strings.Contains(err.Error(), "pass the object itself") {
		t.Fatalf("got %v", err)
	}
	if n, err := bindHandle.Run(ctx, v.Handle(), spawn.Share(r)); err != nil || n != 0 {
		t.Fatalf("shared: %d, %v", n, err)
	}
}

var lockIt = spawn.Register("spawn.lockIt", func(ctx context.Context, a struct{ Mu *fsync.Mutex }) (bool, error) {
	return a.Mu.TryLock(), nil
})

// TestSharedObjectEncodeErrors: an object with no handle of its own, or
// whose region is closed, is refused at Start with ErrEncode and its path.
func TestSharedObjectEncodeErrors(t *testing.T) {
	ctx := context.Background()
	r := must(shm.New(1 << 16))
	b := must(r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 64}))
	mu := must(fsync.MutexAt(b, 0))
	_, err := lockIt.Start(ctx, struct{ Mu *fsync.Mutex }{mu})
	if !errors.Is(err, spawn.ErrEncode) || !strings.Contains(err.Error(), "At function") {
		t.Fatalf("placed mutex: %v", err)
	}
	mu2 := must(fsync.NewMutex(r))
	r.Close()
	_, err = lockIt.Start(ctx, struct{ Mu *fsync.Mutex }{mu2})
	if !errors.Is(err, spawn.ErrEncode) || !strings.Contains(err.Error(), "argument.Mu (*sync.Mutex)") {
		t.Fatalf("closed region: %v", err)
	}
}

// A *shared.List behind an interface travels through gob only when gob
// knows the concrete type, as for any interface value.
func gobRegisterList() { gob.Register(&shared.List[string]{}) }
