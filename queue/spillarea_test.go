package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Spilled messages must not outlive their ring under any exit or kill,
// and no other process may truncate them under a reader (issue 13). In a
// spill area (the default) they live in the ring's own region: these
// tests hold that no file appears under /dev/shm whatever happens, that a
// message outlives its producer, and that the bytes cannot be truncated.
// (With spill files, Config.Spill -1 and the default before, spill files
// leak in each of these cases: the tests were run that way to see them
// fail.)

const areaMsg = 300 << 10 // over the inline limit of a 256 KiB ring

// areaConfig is a 256 KiB ring with the default spill area (Spill 0):
// in a 32 MiB region, about 8 MiB of it, in blocks of MaxMessage 1 MiB.
func areaConfig() queue.Config {
	return queue.Config{Bytes: 1 << 18, MaxMessage: 1 << 20}
}

// newSpillFiles returns the spill files that appeared since before.
func newSpillFiles(t testing.TB, before []string) []string {
	old := map[string]bool{}
	for _, f := range before {
		old[f] = true
	}
	var n []string
	for _, f := range qSpillFiles(t) {
		if !old[f] {
			n = append(n, f)
		}
	}
	return n
}

func TestSpillAreaMessages(t *testing.T) {
	before := qSpillFiles(t)
	ctx := qCtx(t)
	q, err := queue.New(qRegion(t, 32<<20), areaConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Fill the area: TryPut says ErrFull when no block is left.
	k := 0
	for ; ; k++ {
		err := q.TryPut(qMsgFor(9, uint64(k), areaMsg+k))
		if errors.Is(err, queue.ErrFull) {
			break
		}
		if err != nil || k == 100 {
			t.Fatalf("TryPut %d into the spill area: %v", k, err)
		}
	}
	if k < 5 {
		t.Fatalf("an 8 MiB spill area held %d messages of at most 1 MiB", k)
	}
	for i := range k {
		if i%2 == 0 {
			m, err := q.Take(ctx)
			if err != nil || !bytes.Equal(m.Bytes(), qMsgFor(9, uint64(i), areaMsg+i)) {
				t.Fatalf("Take %d: %d bytes, %v", i, len(m.Bytes()), err)
			}
			if err := m.Release(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := q.Get(ctx)
		if err != nil || !bytes.Equal(got, qMsgFor(9, uint64(i), areaMsg+i)) {
			t.Fatalf("Get %d: %d bytes, %v", i, len(got), err)
		}
	}
	// Blocks come back: many more messages than the area holds at once.
	for i := range 40 {
		if err := q.Put(ctx, qMsgFor(9, uint64(i), areaMsg)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Reserve and Commit in place, shortened.
	r, err := q.Reserve(ctx, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	qFillMsg(r.Bytes()[:700000], 4, 4)
	if err := r.Commit(700000); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Get(ctx); err != nil || !bytes.Equal(got, qMsgFor(4, 4, 700000)) {
		t.Fatalf("reserved message: %d bytes, %v", len(got), err)
	}
	if f := newSpillFiles(t, before); len(f) != 0 {
		t.Fatalf("spill files created: %v", f)
	}
}

// qAreaProducer puts one big message and exits.
var qAreaProducer = spawn.Register("queue.qAreaProducer", func(ctx context.Context, h shm.Handle) (struct{}, error) {
	q, err := queue.Open(h)
	if err != nil {
		return struct{}{}, err
	}
	return struct{}{}, q.Put(ctx, qMsgFor(7, 7, areaMsg))
})

func TestSpillAreaOutlivesProducer(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 32<<20)
	q, err := queue.New(r, areaConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qAreaProducer.Run(ctx, q.Handle(), spawn.Share(r)); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Get(ctx); err != nil || !bytes.Equal(got, qMsgFor(7, 7, areaMsg)) {
		t.Fatalf("message of an exited producer: %d bytes, %v", len(got), err)
	}
}

func TestSpillAreaCloseAndReceiverKilled(t *testing.T) {
	before := qSpillFiles(t)
	ctx := qCtx(t)
	r, err := shm.New(32 << 20)
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(r, areaConfig())
	if err != nil {
		t.Fatal(err)
	}
	flag, err := shm.NewValue[atomic.Uint32](r)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := q.Put(ctx, qMsgFor(5, uint64(i), areaMsg)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := qHalfReader.Start(ctx, qCrashArg{Q: q.Handle(), Flag: flag.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	qWaitFlag(t, flag) // the reader holds one big message in place
	qKill(t, p)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if f := newSpillFiles(t, before); len(f) != 0 {
		t.Fatalf("spill files left after a closed queue with unread messages and a killed reader: %v", f)
	}
}

// qAreaTree makes its own queue with big messages unread, starts a
// grandchild that takes one in place, reports and waits to be killed with
// it.
var qAreaTree = spawn.Register("queue.qAreaTree", func(ctx context.Context, flagH shm.Handle) (struct{}, error) {
	flag, err := shm.OpenValue[atomic.Uint32](flagH)
	if err != nil {
		return struct{}{}, err
	}
	r, err := shm.New(32 << 20)
	if err != nil {
		return struct{}{}, err
	}
	q, err := queue.New(r, areaConfig())
	if err != nil {
		return struct{}{}, err
	}
	inner, err := shm.NewValue[atomic.Uint32](r)
	if err != nil {
		return struct{}{}, err
	}
	for i := range 4 {
		if err := q.Put(ctx, qMsgFor(6, uint64(i), areaMsg)); err != nil {
			return struct{}{}, err
		}
	}
	if _, err := qHalfReader.Start(ctx, qCrashArg{Q: q.Handle(), Flag: inner.Handle()}, spawn.Share(r)); err != nil {
		return struct{}{}, err
	}
	for inner.Ptr().Load() == 0 {
		if err := ctx.Err(); err != nil {
			return struct{}{}, err
		}
	}
	flag.Ptr().Store(1)
	<-ctx.Done()
	return struct{}{}, fmt.Errorf("not killed")
})

func TestSpillAreaTreeKilled(t *testing.T) {
	before := qSpillFiles(t)
	ctx := qCtx(t)
	r := qRegion(t, 1<<20)
	flag, err := shm.NewValue[atomic.Uint32](r)
	if err != nil {
		t.Fatal(err)
	}
	p, err := qAreaTree.Start(ctx, flag.Handle(), spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	qWaitFlag(t, flag)
	qKill(t, p) // its child dies with it
	if f := newSpillFiles(t, before); len(f) != 0 {
		t.Fatalf("spill files left after the whole tree was killed: %v", f)
	}
}

func TestSpillAreaCannotBeTruncated(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 32<<20)
	q, err := queue.New(r, areaConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := qMsgFor(8, 8, areaMsg)
	if err := q.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	m, err := q.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another process of the same user reaches the memory the way it can:
	// through /proc/PID/fd of a process that holds it.
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), r.File().Fd()), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(0); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("truncating the region under a reader: %v, want EPERM (sealed)", err)
	}
	if !bytes.Equal(m.Bytes(), want) {
		t.Fatal("message changed")
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestSpillFileTruncatedUnderReader: without a spill area, a spilled
// message travels in a named file that any process of the user can
// truncate. The reader reads it with pread into its own memory: a
// truncation before the read is that message's ErrCorrupt, and one after
// it cannot reach the bytes (before, the reader mapped the file and died
// of SIGBUS on a truncation while it held the message).
func TestSpillFileTruncatedUnderReader(t *testing.T) {
	ctx := qCtx(t)
	q, err := queue.New(qRegion(t, 1<<20), queue.Config{Bytes: 1 << 12, Spill: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := qMsgFor(2, 2, 100<<10)
	if err := q.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	m, err := q.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Truncate every spill file this process still reaches (as another
	// process could through /proc/PID/fd).
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + fd.Name())
		if strings.Contains(target, "forkless-spill-") {
			os.Truncate("/proc/self/fd/"+fd.Name(), 0) //nolint:errcheck // the attack
		}
	}
	if !bytes.Equal(m.Bytes(), want) {
		t.Fatal("message changed")
	}
	m.Release() //nolint:errcheck // nothing to release
	// Truncated before the read: ErrCorrupt, and the queue goes on.
	before := qSpillFiles(t)
	if err := q.Put(ctx, want); err != nil {
		t.Fatal(err)
	}
	for _, f := range newSpillFiles(t, before) {
		if err := os.Truncate(f, 4096+64+10); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrCorrupt) {
		t.Fatalf("Get of a truncated spill file = %v, want ErrCorrupt", err)
	}
	if err := q.Put(ctx, []byte("on")); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Get(ctx); err != nil || string(got) != "on" {
		t.Fatalf("%q, %v", got, err)
	}
}

// TestSpillAreaDeadReaderBlockRecovered: a reader SIGKILLed while it holds
// a spilled message in place holds a block of the area; a producer that
// needs that block gets it back within the recovery bound (the message the
// dead reader took is lost, as documented).
func TestSpillAreaDeadReaderBlockRecovered(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 16<<20)
	// Blocks of 1 MiB (1.25 MiB with the size class) in a 3 MiB area: two.
	q, err := queue.New(r, queue.Config{Bytes: 1 << 16, Spill: 3 << 20, MaxMessage: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	flag, err := shm.NewValue[atomic.Uint32](r)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, qMsgFor(3, 0, areaMsg)); err != nil {
		t.Fatal(err)
	}
	p, err := qHalfReader.Start(ctx, qCrashArg{Q: q.Handle(), Flag: flag.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	qWaitFlag(t, flag)
	qKill(t, p)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for i := range 2 { // the second needs the dead reader's block
		if err := q.Put(wctx, qMsgFor(3, uint64(i+1), areaMsg)); err != nil {
			t.Fatalf("put %d with a dead reader holding a block: %v", i+1, err)
		}
	}
	for i := range 2 {
		if got, err := q.Get(ctx); err != nil || !bytes.Equal(got, qMsgFor(3, uint64(i+1), areaMsg)) {
			t.Fatalf("get %d: %d bytes, %v", i+1, len(got), err)
		}
	}
}

// TestSpillAreaDeadWriterBlockRecovered: a producer SIGKILLed between
// Reserve and Commit of a spilled message holds a block and a claimed
// record; consumers skip the record and free the block within the
// recovery bound, so two more messages fit in a two-block area.
func TestSpillAreaDeadWriterBlockRecovered(t *testing.T) {
	ctx := qCtx(t)
	r := qRegion(t, 16<<20)
	q, err := queue.New(r, queue.Config{Bytes: 1 << 16, Spill: 3 << 20, MaxMessage: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	flag, err := shm.NewValue[atomic.Uint32](r)
	if err != nil {
		t.Fatal(err)
	}
	p, err := qHalfWriter.Start(ctx, qCrashArg{Q: q.Handle(), Flag: flag.Handle(), Size: areaMsg}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	qWaitFlag(t, flag)
	qKill(t, p)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for i := range 2 {
		if err := q.Put(wctx, qMsgFor(4, uint64(i), areaMsg)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if got, err := q.Get(wctx); err != nil || !bytes.Equal(got, qMsgFor(4, uint64(i), areaMsg)) {
			t.Fatalf("get %d: %d bytes, %v", i, len(got), err)
		}
	}
	for i := range 2 { // both blocks free again: the dead writer's came back
		if err := q.TryPut(qMsgFor(4, uint64(i), areaMsg)); err != nil {
			t.Fatalf("TryPut %d into an area whose blocks should all be free: %v", i, err)
		}
	}
}

// The default spill area's sizing (Config.Spill 0): MaxMessage is a
// quarter of the area (16 rings or 4 MiB, or a quarter of the region's
// room when that is less), inline-only in a cramped region; the region
// keeps three quarters of its room for other objects; an
// explicit MaxMessage the region cannot hold twice is refused; Spill -1
// still means spill files.
func TestDefaultSpillSizing(t *testing.T) {
	ctx := qCtx(t)
	before := qSpillFiles(t)
	q, err := queue.New(qRegion(t, 16<<20), queue.Config{Bytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	// The fault harness's case: a 64 KiB queue in a 32 MiB region left
	// less than 16 MiB for the caller's next object.
	r32 := qRegion(t, 32<<20)
	if _, err := queue.New(r32, queue.Config{Bytes: 1 << 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := r32.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 20 << 20}); err != nil {
		t.Fatalf("a 20 MiB object after a default queue in a 32 MiB region: %v", err)
	}
	if mm := q.MaxMessage(); mm < 768<<10 || mm > 1<<20 {
		t.Fatalf("default MaxMessage of a 64 KiB ring in a 16 MiB region: %d, want 0.75-1 MiB", mm)
	}
	if err := q.Put(ctx, qMsgFor(1, 1, q.MaxMessage())); err != nil {
		t.Fatalf("Put of MaxMessage bytes with the default area: %v", err)
	}
	if err := q.Put(ctx, make([]byte, q.MaxMessage()+1)); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("Put over the default MaxMessage = %v, want ErrTooLarge", err)
	}
	if got, err := q.Get(ctx); err != nil || !bytes.Equal(got, qMsgFor(1, 1, q.MaxMessage())) {
		t.Fatalf("Get of the spilled message: %d bytes, %v", len(got), err)
	}
	// Three spilled messages at a time (blocks of MaxMessage, a quarter of
	// the area, rounded up to a heap class).
	held := 0
	for ; held < 10; held++ {
		if err := q.TryPut(make([]byte, q.MaxInline()+1)); errors.Is(err, queue.ErrFull) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if held != 3 {
		t.Fatalf("the default area held %d spilled messages, want 3", held)
	}
	for range held {
		if _, err := q.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if f := newSpillFiles(t, before); len(f) != 0 {
		t.Fatalf("the default configuration made spill files: %v", f)
	}

	small, err := queue.New(qRegion(t, 256<<10), queue.Config{Bytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	if small.MaxMessage() != small.MaxInline() {
		t.Fatalf("cramped region: MaxMessage %d, want MaxInline %d", small.MaxMessage(), small.MaxInline())
	}
	if err := small.Put(ctx, make([]byte, small.MaxInline()+1)); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("Put over the inline limit in a cramped region = %v, want ErrTooLarge", err)
	}
	if _, err := queue.New(qRegion(t, 1<<20), queue.Config{Bytes: 1 << 12, MaxMessage: 1 << 20}); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("an explicit MaxMessage the region cannot hold = %v, want ErrNoSpace", err)
	}

	files, err := queue.New(qRegion(t, 1<<20), queue.Config{Bytes: 1 << 12, Spill: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := files.Put(ctx, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	if f := newSpillFiles(t, before); len(f) != 1 {
		t.Fatalf("Spill -1: %d new spill files, want 1", len(f))
	}
	if _, err := files.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if f := newSpillFiles(t, before); len(f) != 0 {
		t.Fatalf("spill file left after Get: %v", f)
	}
}
