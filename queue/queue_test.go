package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
)

func qCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func qRegion(t testing.TB, size int64) *shm.Region {
	r, err := shm.New(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func qNew(t testing.TB, c queue.Config) *queue.Queue {
	r := qRegion(t, int64(max(c.Bytes, 1<<20))+1<<16)
	q, err := queue.New(r, c)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// qMsgFor is the deterministic content of message seq of producer id, n
// bytes long.
func qMsgFor(id, seq uint64, n int) []byte {
	b := make([]byte, n)
	qFillMsg(b, id, seq)
	return b
}

func qFillMsg(b []byte, id, seq uint64) {
	x := id*0x9e3779b97f4a7c15 ^ seq*0xbf58476d1ce4e5b9 ^ uint64(len(b))
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
}

func TestQueueBasic(t *testing.T) {
	q := qNew(t, queue.Config{Bytes: 4096})
	ctx := qCtx(t)
	if _, err := q.TryGet(); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("TryGet on empty = %v, want ErrEmpty", err)
	}
	msgs := [][]byte{{}, []byte("a"), []byte("hello, world"), bytes.Repeat([]byte{7}, 100)}
	for _, m := range msgs {
		if err := q.Put(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != len(msgs) {
		t.Fatalf("Len = %d, want %d", q.Len(), len(msgs))
	}
	for i, want := range msgs {
		got, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("message %d = %q, want %q", i, got, want)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("Len = %d after draining", q.Len())
	}
	q.Put(ctx, []byte("last"))
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, []byte("x")); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Put after Close = %v, want ErrClosed", err)
	}
	if got, err := q.Get(ctx); err != nil || string(got) != "last" {
		t.Fatalf("Get after Close = %q, %v; want the queued message", got, err)
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Get on closed, drained queue = %v, want ErrClosed", err)
	}
	if err := q.Close(); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

// TestQueueFullEmptyWrap fills a small ring to ErrFull and drains it to
// ErrEmpty many times with random sizes, so records pad and wrap at every
// offset, and checks every message.
func TestQueueFullEmptyWrap(t *testing.T) {
	q := qNew(t, queue.Config{Bytes: 1024})
	rng := rand.New(rand.NewPCG(1, 2))
	var seq, got uint64
	for round := range 2000 {
		var sent []uint64
		var sizes []int
		for {
			n := rng.IntN(q.MaxInline() + 1)
			if round%3 == 0 {
				n = rng.IntN(40)
			}
			err := q.TryPut(qMsgFor(1, seq, n))
			if errors.Is(err, queue.ErrFull) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, seq)
			sizes = append(sizes, n)
			seq++
		}
		if len(sent) == 0 {
			t.Fatalf("round %d: nothing fit in an empty ring", round)
		}
		if q.Len() != len(sent) {
			t.Fatalf("Len = %d, want %d", q.Len(), len(sent))
		}
		drain := len(sent)
		if round%2 == 1 {
			drain = len(sent) / 2 // leave some, so the next round starts mid-ring
		}
		for i := range drain {
			m, err := q.TryGet()
			if err != nil {
				t.Fatalf("round %d get %d: %v", round, i, err)
			}
			if !bytes.Equal(m, qMsgFor(1, sent[i], sizes[i])) {
				t.Fatalf("round %d: message %d corrupted", round, sent[i])
			}
			got++
		}
		for i := drain; i < len(sent); i++ {
			m, err := q.TryGet()
			if err != nil || !bytes.Equal(m, qMsgFor(1, sent[i], sizes[i])) {
				t.Fatalf("round %d: leftover %d: %v", round, sent[i], err)
			}
			got++
		}
		if _, err := q.TryGet(); !errors.Is(err, queue.ErrEmpty) {
			t.Fatalf("TryGet on drained ring = %v", err)
		}
	}
	if got != seq {
		t.Fatalf("got %d of %d", got, seq)
	}
}

func TestQueueItemLimit(t *testing.T) {
	q := qNew(t, queue.Config{Bytes: 1 << 16, Items: 3})
	for i := range 3 {
		if err := q.TryPut([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.TryPut([]byte{9}); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("4th TryPut = %v, want ErrFull", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := q.Put(ctx, []byte{9}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put on full queue = %v, want deadline exceeded", err)
	}
	if _, err := q.TryGet(); err != nil {
		t.Fatal(err)
	}
	if err := q.TryPut([]byte{9}); err != nil {
		t.Fatalf("TryPut after a get = %v", err)
	}
}

func TestQueueBlockingHandOff(t *testing.T) {
	q := qNew(t, queue.Config{Bytes: 1024})
	ctx := qCtx(t)
	const n = 20000
	done := make(chan error, 1)
	go func() {
		for i := range uint64(n) {
			if err := q.Put(ctx, qMsgFor(0, i, int(i%300))); err != nil {
				done <- err
				return
			}
		}
		done <- q.Close()
	}()
	for i := uint64(0); ; i++ {
		m, err := q.Get(ctx)
		if errors.Is(err, queue.ErrClosed) {
			if i != n {
				t.Fatalf("closed after %d of %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m, qMsgFor(0, i, int(i%300))) {
			t.Fatalf("message %d corrupted", i)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestQueueCancelWakesGetter(t *testing.T) {
	q := qNew(t, queue.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := q.Get(ctx); done <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Get = %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not wake Get")
	}
}

// TestQueueNoSyscallWithoutSleepers: puts and gets make no futex call when
// nobody sleeps on the other side.
func TestQueueNoSyscallWithoutSleepers(t *testing.T) {
	q := qNew(t, queue.Config{Bytes: 1 << 16})
	ctx := qCtx(t)
	msg := make([]byte, 64)
	before := futex.Syscalls()
	for range 10000 {
		if err := q.Put(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := futex.Syscalls() - before; d != 0 {
		t.Fatalf("%d futex calls for 10000 uncontended puts and gets, want 0", d)
	}
}

func TestQueueZeroCopy(t *testing.T) {
	q := qNew(t, queue.Config{Bytes: 4096})
	ctx := qCtx(t)
	r, err := q.Reserve(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	copy(r.Bytes(), "in place")
	if q.Len() != 1 {
		t.Fatalf("Len with a reservation = %d, want 1", q.Len())
	}
	if _, err := q.TryTake(); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("TryTake of an uncommitted record = %v, want ErrEmpty", err)
	}
	if err := r.Commit(8); err != nil {
		t.Fatal(err)
	}
	a, _ := q.Reserve(ctx, 10)
	a.Abort()
	q.Put(ctx, []byte("after"))
	m, err := q.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Bytes()) != "in place" {
		t.Fatalf("Take = %q", m.Bytes())
	}
	m.Release()
	if got, err := q.Get(ctx); err != nil || string(got) != "after" {
		t.Fatalf("Get after an aborted reservation = %q, %v", got, err)
	}
	if q.Len() != 0 {
		t.Fatalf("Len = %d", q.Len())
	}
}

func qSpillFiles(t testing.TB) []string {
	m, _ := filepath.Glob("/dev/shm/forkless-spill-*")
	return m
}

func TestQueueLargeMessages(t *testing.T) {
	before := len(qSpillFiles(t))
	q := qNew(t, queue.Config{Bytes: 1 << 16, Spill: -1}) // spill files
	ctx := qCtx(t)
	big := qMsgFor(3, 3, 64<<20)
	if err := q.Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, []byte("small")); err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("64 MiB message corrupted")
	}
	if got, err := q.Get(ctx); err != nil || string(got) != "small" {
		t.Fatalf("%q, %v", got, err)
	}
	// Zero-copy both ways, shortened at commit.
	r, err := q.Reserve(ctx, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	qFillMsg(r.Bytes()[:700000], 4, 4)
	if err := r.Commit(700000); err != nil {
		t.Fatal(err)
	}
	m, err := q.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Bytes(), qMsgFor(4, 4, 700000)) {
		t.Fatal("reserved large message corrupted")
	}
	m.Release()
	if n := len(qSpillFiles(t)); n != before {
		t.Fatalf("%d spill files left in /dev/shm, want %d", n, before)
	}

	inl := qNew(t, queue.Config{Bytes: 1 << 12, MaxMessage: -1})
	if err := inl.Put(ctx, make([]byte, inl.MaxInline()+1)); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("Put over the inline limit with spilling off = %v, want ErrTooLarge", err)
	}
	if err := inl.Put(ctx, make([]byte, inl.MaxInline())); err != nil {
		t.Fatalf("Put of exactly MaxInline = %v", err)
	}
	lim := qNew(t, queue.Config{Bytes: 1 << 12, MaxMessage: 1 << 20, Spill: -1})
	if err := lim.Put(ctx, make([]byte, 1<<20+1)); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("Put over MaxMessage = %v, want ErrTooLarge", err)
	}
	if lim.Len() != 0 || inl.Len() != 1 {
		t.Fatalf("a refused put left something: Len %d, %d", lim.Len(), inl.Len())
	}
}

func TestQueueBadConfig(t *testing.T) {
	r := qRegion(t, 1<<20)
	for _, c := range []queue.Config{{Bytes: -1}, {Bytes: queue.MaxBytes + 1}, {Items: -5}} {
		if _, err := queue.New(r, c); !errors.Is(err, queue.ErrCapacity) {
			t.Errorf("NewQueue(%+v) = %v, want ErrCapacity", c, err)
		}
	}
	if _, err := queue.New(r, queue.Config{Bytes: 4 << 20}); !errors.Is(err, shm.ErrNoSpace) {
		t.Errorf("NewQueue larger than the region = %v, want ErrNoSpace", err)
	}
	arr, err := shm.NewArray[uint64](r, 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Open(arr.Handle()); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenQueue of an array = %v, want ErrKind", err)
	}
}

// qCorruptable makes a queue with a few records in it and returns it with
// its raw block bytes (header at 0, data at 512).
func qCorruptable(t testing.TB) (*queue.Queue, []byte) {
	q := qNew(t, queue.Config{Bytes: 1024})
	for i := range 5 {
		if err := q.TryPut(qMsgFor(9, uint64(i), 50+i)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := shm.BindHandle(q.Handle(), queue.KindRecords)
	if err != nil {
		t.Fatal(err)
	}
	return q, b.Bytes()
}

func TestQueueCorrupt(t *testing.T) {
	cases := []struct {
		name string
		mess func(b []byte)
		open bool // OpenQueue itself must refuse
	}{
		{"magic", func(b []byte) { b[0] ^= 0xff }, true},
		{"version", func(b []byte) { b[4] = 9 }, true},
		{"capacity not a power of two", func(b []byte) { b[8] = 0x01; b[9] = 0x03 }, true},
		{"negative capacity", func(b []byte) { b[15] = 0x80 }, true},
		{"head past tail", func(b []byte) { b[128] = 0xf0; b[129] = 0x0f }, true},
		{"tail beyond a lap", func(b []byte) { b[73] = 0x40 }, true},
		{"unaligned head", func(b []byte) { b[128] = 8 }, true},
		{"span overrunning the ring", func(b []byte) { b[512+8] = 0; b[512+9] = 0x7f }, false},
		{"span zero", func(b []byte) { b[512+8] = 0; b[512+9] = 0 }, false},
		{"length beyond span", func(b []byte) { b[512+12] = 0xff; b[512+13] = 0xff }, false},
		{"unknown state", func(b []byte) { b[512] = 0x0c }, false},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			q, b := qCorruptable(t)
			c.mess(b)
			q2, err := queue.Open(q.Handle())
			if c.open {
				if err == nil || !(errors.Is(err, queue.ErrCorrupt) || errors.Is(err, queue.ErrCapacity)) {
					t.Fatalf("OpenQueue = %v, want ErrCorrupt or ErrCapacity", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := q2.TryGet(); !errors.Is(err, queue.ErrCorrupt) {
				t.Fatalf("TryGet = %v, want ErrCorrupt", err)
			}
		})
	}
}

// FuzzQueueRecords overwrites a ring's cursors and data with fuzzed bytes
// and reads it: every outcome must be an error or a message within the
// ring, never a panic or a read outside it.
func FuzzQueueRecords(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x02, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0x10, 0, 0, 0}, uint16(512))
	f.Add([]byte{0x03, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0x10, 0, 0, 0}, uint16(512))
	f.Add([]byte{0x05, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x04, 0, 0, 0, 0, 0, 0}, uint16(512))
	f.Add([]byte{0x12, 0, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0, 0x50, 0, 0, 0}, uint16(512))
	f.Add([]byte{0x40, 0, 0, 0, 0, 0, 0, 0}, uint16(72))
	f.Add([]byte{0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0}, uint16(128))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint16(600))
	f.Fuzz(func(t *testing.T, patch []byte, at uint16) {
		q, b := qCorruptable(t)
		off := int(at) % len(b)
		if off < 64 {
			off += 64 // keep the constant header line: it is checked by open
		}
		copy(b[off:], patch)
		q2, err := queue.Open(q.Handle())
		if err != nil {
			return
		}
		for range 20 {
			m, err := q2.TryTake()
			if err != nil {
				break
			}
			if len(m.Bytes()) > q2.Cap() {
				t.Fatalf("message of %d bytes from a %d-byte ring", len(m.Bytes()), q2.Cap())
			}
			m.Release()
		}
		q2.TryPut([]byte("after"))
		q2.Len()
	})
}

func ExampleQueue() {
	r, err := shm.New(1 << 20)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	q, err := queue.New(r, queue.Config{Bytes: 64 << 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	// q.Handle() would travel to a child, which calls queue.Open.
	ctx := context.Background()
	q.Put(ctx, []byte("hello"))
	q.Put(ctx, []byte("world"))
	q.Close()
	for {
		m, err := q.Get(ctx)
		if errors.Is(err, queue.ErrClosed) {
			break
		}
		fmt.Printf("%s ", m)
	}
	fmt.Println(q.Len())
	// Output: hello world 0
}

var _ = os.Getpid
