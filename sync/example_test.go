package sync_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// The arguments of a child: handles, which are plain values.
type addArg struct {
	Lock, Total shm.Handle
	N           int
}

// add runs in a child process: it binds the lock and the counter its parent
// made, and adds to the counter under the lock.
var add = spawn.Register("sync.add", func(ctx context.Context, a addArg) (int, error) {
	mu, err := fsync.OpenMutex(a.Lock)
	if err != nil {
		return 0, err
	}
	total, err := shm.OpenValue[int64](a.Total)
	if err != nil {
		return 0, err
	}
	for range a.N {
		if err := mu.Lock(); err != nil {
			return 0, err
		}
		*total.Ptr() += 1
		mu.Unlock()
	}
	return a.N, nil
})

// Two child processes add to one counter in shared memory under a Mutex.
// (A real program calls spawn.Main() first thing in main; this test binary
// does it in TestMain.)
func Example() {
	region, err := shm.New(1 << 16)
	if err != nil {
		panic(err)
	}
	defer region.Close()
	mu, _ := fsync.NewMutex(region)
	total, _ := shm.NewValue[int64](region)

	ctx := context.Background()
	arg := addArg{Lock: mu.Handle(), Total: total.Handle(), N: 10000}
	p1, _ := add.Start(ctx, arg, spawn.Share(region))
	p2, _ := add.Start(ctx, arg, spawn.Share(region))
	p1.Wait(ctx)
	p2.Wait(ctx)

	fmt.Println(*total.Ptr())
	// Output: 20000
}

type lockAndDieArg struct {
	Lock, Held shm.Handle
}

var lockAndDie = spawn.Register("sync.lockAndDie", func(ctx context.Context, a lockAndDieArg) (int, error) {
	mu, _ := fsync.OpenMutex(a.Lock)
	held, _ := fsync.OpenEvent(a.Held)
	mu.Lock()
	held.Set()
	<-ctx.Done() // never unlocks: the parent kills this process
	return 0, nil
})

// A process that dies holding a lock does not deadlock the others: the
// next Lock takes the lock and says what happened. The taker repairs what
// the lock guards and marks it consistent; an Unlock without that would
// leave the lock unrecoverable (docs/robust.md).
func ExampleMutex_Lock_ownerDied() {
	region, _ := shm.New(1 << 16)
	defer region.Close()
	mu, _ := fsync.NewMutex(region)
	held, _ := fsync.NewEvent(region)

	ctx := context.Background()
	p, _ := lockAndDie.Start(ctx, lockAndDieArg{Lock: mu.Handle(), Held: held.Handle()}, spawn.Share(region))
	held.Wait()
	p.Kill() // SIGKILL while it holds the lock

	err := mu.Lock()
	fmt.Println(errors.Is(err, fsync.ErrOwnerDead))
	// ... repair the data the lock guards, then:
	mu.MarkConsistent()
	mu.Unlock()
	fmt.Println(mu.Lock(), mu.Locked())
	mu.Unlock()
	// Output:
	// true
	// <nil> true
}

// A Barrier releases its parties together, each with its own arrival
// index, and runs an action once per round.
func ExampleBarrier() {
	region, _ := shm.New(1 << 16)
	defer region.Close()
	b, _ := fsync.NewBarrier(region, 3)
	rounds := 0
	b.SetAction(func() error { rounds++; return nil })

	done := make(chan int, 3)
	for range 3 {
		go func() {
			i, _ := b.Wait()
			done <- i
		}()
	}
	sum := 0
	for range 3 {
		sum += <-done
	}
	fmt.Println(sum, rounds) // 0 + 1 + 2
	// Output: 3 1
}

// Another package's shared object can carry a lock inside its own block.
func ExampleMutexAt() {
	region, _ := shm.New(1 << 16)
	defer region.Close()
	// A 64-byte object of the application's own kind: a lock at offset 0,
	// data after it.
	blk, _ := region.Alloc(shm.Layout{Kind: 0x8001, Size: 64})
	mu, err := fsync.MutexAt(blk, 0) // MutexSize bytes, MutexAlign-aligned
	if err != nil {
		panic(err)
	}
	mu.Lock()
	blk.Uint64(fsync.MutexSize).Add(1)
	mu.Unlock()
	fmt.Println(blk.Uint64(8).Load())
	// Output: 1
}

// An Event wakes every process that waits for it.
func ExampleEvent() {
	region, _ := shm.New(1 << 16)
	defer region.Close()
	ev, _ := fsync.NewEvent(region)
	set := make(chan struct{})
	go func() {
		ev.Set() // in another process, in real use
		close(set)
	}()
	if err := ev.Wait(); err != nil {
		panic(err)
	}
	<-set
	fmt.Println(ev.IsSet())
	// Output: true
}
