package queue_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// qScale returns n scaled for -short (a tenth) and FORKLESS_SOAK (ten
// times).
func qScale(n int) int {
	if os.Getenv("FORKLESS_SOAK") != "" {
		return n * 10
	}
	if testing.Short() {
		return max(n/10, 1)
	}
	return n
}

// qStressArg drives one producer or consumer child.
type qStressArg struct {
	Q       shm.Handle // the queue
	Seen    shm.Handle // Array[atomic.Uint64]: one bit per (producer, seq)
	ID      uint64     // producer id
	N       uint64     // messages per producer
	MinSize uint64
	MaxSize uint64
	Seed    uint64
	Order   bool // consumer: check per-producer order (one consumer only)
	Take    bool // consumer: read in place instead of copying
}

type qStressResult struct {
	Count, Bytes, Dups, Bad, OutOfOrder uint64
}

// qStressMsg is message seq of producer id: id and seq, then filler that
// depends on both and on the length.
func qStressMsg(b []byte, id, seq uint64) {
	qFillMsg(b, id, seq)
	if len(b) >= 16 {
		binary.LittleEndian.PutUint64(b, id)
		binary.LittleEndian.PutUint64(b[8:], seq)
	}
}

var qStressProducer = spawn.Register("queue.qStressProducer", func(ctx context.Context, a qStressArg) (uint64, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(a.Seed, a.ID))
	buf := make([]byte, a.MaxSize)
	var total uint64
	for seq := range a.N {
		n := a.MinSize + rng.Uint64N(a.MaxSize-a.MinSize+1)
		b := buf[:n]
		qStressMsg(b, a.ID, seq)
		if err := q.Put(ctx, b); err != nil {
			return total, fmt.Errorf("put %d: %w", seq, err)
		}
		total += n
	}
	return total, nil
})

func qCheck(m []byte, seen []atomic.Uint64, n uint64, last map[uint64]uint64, r *qStressResult, order bool) {
	r.Count++
	r.Bytes += uint64(len(m))
	if len(m) < 16 {
		r.Bad++
		return
	}
	id, seq := binary.LittleEndian.Uint64(m), binary.LittleEndian.Uint64(m[8:])
	want := make([]byte, len(m))
	qStressMsg(want, id, seq)
	if seq >= n || id*n+seq >= uint64(len(seen))*64 || !bytes.Equal(m, want) {
		r.Bad++
		return
	}
	bit := id*n + seq
	if old := seen[bit/64].Or(1 << (bit % 64)); old&(1<<(bit%64)) != 0 {
		r.Dups++
	}
	if order {
		if l, ok := last[id]; ok && seq <= l {
			r.OutOfOrder++
		}
		last[id] = seq
	}
}

var qStressConsumer = spawn.Register("queue.qStressConsumer", func(ctx context.Context, a qStressArg) (qStressResult, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return qStressResult{}, err
	}
	arr, err := shm.OpenArray[atomic.Uint64](a.Seen)
	if err != nil {
		return qStressResult{}, err
	}
	return qConsume(ctx, q, arr.Slice(), a)
})

func qConsume(ctx context.Context, q *queue.Queue, seen []atomic.Uint64, a qStressArg) (qStressResult, error) {
	var r qStressResult
	last := map[uint64]uint64{}
	var buf []byte
	for {
		if a.Take {
			m, err := q.Take(ctx)
			if errors.Is(err, queue.ErrClosed) {
				return r, nil
			}
			if err != nil {
				return r, err
			}
			qCheck(m.Bytes(), seen, a.N, last, &r, a.Order)
			m.Release()
			continue
		}
		m, err := q.AppendGet(ctx, buf[:0])
		if errors.Is(err, queue.ErrClosed) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		buf = m
		qCheck(m, seen, a.N, last, &r, a.Order)
	}
}

// qRunStress runs producers and consumers in child processes and checks that
// every message arrived exactly once, intact.
func qRunStress(t *testing.T, producers, consumers int, perProducer int, cfg queue.Config, minSize, maxSize uint64) {
	t.Helper()
	ctx := qCtx(t)
	n := uint64(perProducer)
	bits := uint64(producers) * n
	region := qRegion(t, int64(cfg.Bytes)+max(cfg.Spill, 0)+int64(bits/8)+1<<20)
	q, err := queue.New(region, cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen, err := shm.NewArray[atomic.Uint64](region, int((bits+63)/64))
	if err != nil {
		t.Fatal(err)
	}
	base := qStressArg{Q: q.Handle(), Seen: seen.Handle(), N: n, MinSize: minSize, MaxSize: maxSize, Seed: uint64(time.Now().UnixNano()),
		Order: consumers == 1, Take: consumers%2 == 0}
	var cons []*spawn.Process[qStressResult]
	for i := range consumers {
		a := base
		a.Take = i%2 == 1
		p, err := qStressConsumer.Start(ctx, a, spawn.Share(region))
		if err != nil {
			t.Fatal(err)
		}
		cons = append(cons, p)
	}
	var prods []*spawn.Process[uint64]
	start := time.Now()
	for i := range producers {
		a := base
		a.ID = uint64(i)
		p, err := qStressProducer.Start(ctx, a, spawn.Share(region))
		if err != nil {
			t.Fatal(err)
		}
		prods = append(prods, p)
	}
	var sent uint64
	for _, p := range prods {
		b, err := p.Wait(ctx)
		if err != nil {
			t.Fatal("producer:", err)
		}
		sent += b
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	var total qStressResult
	for _, p := range cons {
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatal("consumer:", err)
		}
		total.Count += r.Count
		total.Bytes += r.Bytes
		total.Dups += r.Dups
		total.Bad += r.Bad
		total.OutOfOrder += r.OutOfOrder
	}
	el := time.Since(start)
	t.Logf("%dP%dC: %d messages, %d bytes in %v (%.2f M msgs/s)", producers, consumers, total.Count, total.Bytes, el, float64(total.Count)/el.Seconds()/1e6)
	if total.Count != bits || total.Dups != 0 || total.Bad != 0 || total.OutOfOrder != 0 || total.Bytes != sent {
		t.Fatalf("received %+v; want %d messages, %d bytes, no dups, none bad, in order", total, bits, sent)
	}
	words := seen.Slice()
	for i := range words {
		w := &words[i]
		want := ^uint64(0)
		if rest := bits - uint64(i)*64; rest < 64 {
			want = 1<<rest - 1
		}
		if got := w.Load(); got != want {
			t.Fatalf("seen word %d = %#x, want %#x: a message was lost", i, got, want)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("Len = %d after draining", q.Len())
	}
}

func TestQueueStress1P1C(t *testing.T) {
	qRunStress(t, 1, 1, qScale(1_000_000), queue.Config{Bytes: 1 << 16}, 16, 64)
}

func TestQueueStress2P2C(t *testing.T) {
	qRunStress(t, 2, 2, qScale(500_000), queue.Config{Bytes: 1 << 16}, 16, 64)
}

func TestQueueStress4P1C(t *testing.T) {
	qRunStress(t, 4, 1, qScale(250_000), queue.Config{Bytes: 1 << 16}, 16, 64)
}

// TestQueueStressTinyRing wraps a 1 KiB ring every few messages, so that
// padding, full and empty are hit all the time.
func TestQueueStressTinyRing(t *testing.T) {
	qRunStress(t, 2, 2, qScale(100_000), queue.Config{Bytes: 1 << 10}, 16, 300)
}

// TestQueueStressRandomSizes sends messages of 16 bytes to 1 MiB through a
// 1 MiB ring: the larger half of them travel in spill regions.
func TestQueueStressRandomSizes(t *testing.T) {
	before := len(qSpillFiles(t))
	qRunStress(t, 2, 2, qScale(150), queue.Config{Bytes: 1 << 20, Spill: -1}, 16, 1<<20)
	if n := len(qSpillFiles(t)); n != before {
		t.Fatalf("%d spill files left in /dev/shm, want %d", n, before)
	}
}

// TestQueueStressRandomSizesSpillArea is the same through a spill area:
// the larger half of the messages take blocks of it, in place (Take) or
// copied (Get), across processes.
func TestQueueStressRandomSizesSpillArea(t *testing.T) {
	before := qSpillFiles(t)
	qRunStress(t, 2, 2, qScale(150), queue.Config{Bytes: 1 << 20, Spill: 8 << 20, MaxMessage: 1 << 20}, 16, 1<<20)
	if f := newSpillFiles(t, before); len(f) != 0 {
		t.Fatalf("spill files created: %v", f)
	}
}

// ---- crash tests ----

type qCrashArg struct {
	Q     shm.Handle
	Flag  shm.Handle // Value[uint32]: the child sets it when in position
	Size  uint64
	Spill bool
}

// qHalfWriter reserves a record, writes half of it and waits to be killed.
var qHalfWriter = spawn.Register("queue.qHalfWriter", func(ctx context.Context, a qCrashArg) (struct{}, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return struct{}{}, err
	}
	flag, err := shm.OpenValue[atomic.Uint32](a.Flag)
	if err != nil {
		return struct{}{}, err
	}
	r, err := q.Reserve(ctx, int(a.Size))
	if err != nil {
		return struct{}{}, err
	}
	b := r.Bytes()
	for i := range b[:len(b)/2] {
		b[i] = 0xee
	}
	flag.Ptr().Store(1)
	<-ctx.Done()
	return struct{}{}, nil
})

// qHalfReader takes a message in place and waits to be killed.
var qHalfReader = spawn.Register("queue.qHalfReader", func(ctx context.Context, a qCrashArg) (struct{}, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return struct{}{}, err
	}
	flag, err := shm.OpenValue[atomic.Uint32](a.Flag)
	if err != nil {
		return struct{}{}, err
	}
	if _, err := q.Take(ctx); err != nil {
		return struct{}{}, err
	}
	flag.Ptr().Store(1)
	<-ctx.Done()
	return struct{}{}, nil
})

func qWaitFlag(t *testing.T, v *shm.Value[atomic.Uint32]) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for v.Ptr().Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("child never got in position")
		}
		time.Sleep(time.Millisecond)
	}
}

func qKill[R any](t *testing.T, p *spawn.Process[R]) {
	t.Helper()
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait(context.Background())
}

// TestQueueProducerKilledMidWrite: a producer SIGKILLed halfway through
// writing a record never delivers it, and the messages queued behind it
// reach a consumer that was already waiting, within the recovery bound.
func TestQueueProducerKilledMidWrite(t *testing.T) {
	for _, spill := range []bool{false, true} {
		t.Run(fmt.Sprintf("spill=%v", spill), func(t *testing.T) {
			ctx := qCtx(t)
			before := len(qSpillFiles(t))
			region := qRegion(t, 4<<20)
			q, err := queue.New(region, queue.Config{Bytes: 1 << 16, Spill: -1}) // spill files
			if err != nil {
				t.Fatal(err)
			}
			flag, err := shm.NewValue[atomic.Uint32](region)
			if err != nil {
				t.Fatal(err)
			}
			size := uint64(200)
			if spill {
				size = 8 << 20
			}
			p, err := qHalfWriter.Start(ctx, qCrashArg{Q: q.Handle(), Flag: flag.Handle(), Size: size}, spawn.Share(region))
			if err != nil {
				t.Fatal(err)
			}
			qWaitFlag(t, flag)
			for i := range 3 {
				if err := q.Put(ctx, qMsgFor(5, uint64(i), 40)); err != nil {
					t.Fatal(err)
				}
			}
			if q.Len() != 4 {
				t.Fatalf("Len = %d, want 4 (one being written, three committed)", q.Len())
			}
			got := make(chan error, 1)
			var recovered time.Time
			go func() {
				for i := range 3 {
					m, err := q.Get(ctx)
					if err != nil {
						got <- err
						return
					}
					if i == 0 {
						recovered = time.Now()
					}
					if !bytes.Equal(m, qMsgFor(5, uint64(i), 40)) {
						got <- fmt.Errorf("message %d is %d bytes %x..., not the one sent", i, len(m), m[:min(len(m), 8)])
						return
					}
				}
				got <- nil
			}()
			time.Sleep(30 * time.Millisecond) // the getter sleeps behind the claimed record
			select {
			case err := <-got:
				t.Fatalf("getter returned before the writer died: %v", err)
			default:
			}
			killed := time.Now()
			qKill(t, p)
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("consumers stayed blocked behind a dead producer's record")
			}
			if d := recovered.Sub(killed); d > time.Second {
				t.Fatalf("recovery took %v, want well under a second", d)
			} else {
				t.Logf("recovered %v after the kill", d)
			}
			if q.Len() != 0 {
				t.Fatalf("Len = %d, want 0", q.Len())
			}
			// The ring goes on working.
			if err := q.Put(ctx, []byte("on")); err != nil {
				t.Fatal(err)
			}
			if m, err := q.Get(ctx); err != nil || string(m) != "on" {
				t.Fatalf("%q, %v", m, err)
			}
			if n := len(qSpillFiles(t)); n != before {
				t.Fatalf("%d spill files left, want %d", n, before)
			}
		})
	}
}

// TestQueueConsumerKilledMidRead: a consumer SIGKILLed while it holds a
// message in place loses that message only; producers waiting for room get
// it back within the recovery bound.
func TestQueueConsumerKilledMidRead(t *testing.T) {
	ctx := qCtx(t)
	region := qRegion(t, 4<<20)
	q, err := queue.New(region, queue.Config{Bytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	flag, err := shm.NewValue[atomic.Uint32](region)
	if err != nil {
		t.Fatal(err)
	}
	var sent uint64
	for ; ; sent++ {
		if err := q.TryPut(qMsgFor(6, sent, 100)); errors.Is(err, queue.ErrFull) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	p, err := qHalfReader.Start(ctx, qCrashArg{Q: q.Handle(), Flag: flag.Handle()}, spawn.Share(region))
	if err != nil {
		t.Fatal(err)
	}
	qWaitFlag(t, flag)
	// Drain the rest: message 0 is the dead reader's.
	for i := uint64(1); i < sent; i++ {
		m, err := q.Get(ctx)
		if err != nil || !bytes.Equal(m, qMsgFor(6, i, 100)) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := q.TryPut(qMsgFor(6, sent, 100)); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("TryPut while the reader holds the oldest record = %v, want ErrFull", err)
	}
	killed := time.Now()
	qKill(t, p)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range sent {
		if err := q.Put(pctx, qMsgFor(7, i, 100)); err != nil {
			t.Fatalf("Put after the reader died: %v", err)
		}
		if i == 0 {
			d := time.Since(killed)
			if d > time.Second {
				t.Fatalf("room came back after %v", d)
			}
			t.Logf("room came back %v after the kill", d)
		}
	}
	for i := range sent {
		m, err := q.Get(ctx)
		if err != nil || !bytes.Equal(m, qMsgFor(7, i, 100)) {
			t.Fatalf("message %d after recovery: %v", i, err)
		}
	}
}

// qLoopProducer puts checksummed messages until killed.
var qLoopProducer = spawn.Register("queue.qLoopProducer", func(ctx context.Context, a qStressArg) (struct{}, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return struct{}{}, err
	}
	rng := rand.New(rand.NewPCG(a.Seed, a.ID))
	buf := make([]byte, a.MaxSize)
	for seq := uint64(0); ; seq++ {
		b := buf[:a.MinSize+rng.Uint64N(a.MaxSize-a.MinSize+1)]
		qStressMsg(b, a.ID, seq%a.N)
		if err := q.Put(ctx, b); err != nil {
			return struct{}{}, err
		}
	}
})

// TestQueueProducersKilledAtRandom kills producers at random moments while
// a consumer reads: every message received is whole, and the queue keeps
// working for the survivors.
func TestQueueProducersKilledAtRandom(t *testing.T) {
	ctx := qCtx(t)
	region := qRegion(t, 4<<20)
	q, err := queue.New(region, queue.Config{Bytes: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	var bad, count atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := q.Get(ctx)
			if err != nil {
				return
			}
			count.Add(1)
			id, seq := binary.LittleEndian.Uint64(m), binary.LittleEndian.Uint64(m[8:])
			want := make([]byte, len(m))
			qStressMsg(want, id, seq)
			if !bytes.Equal(m, want) {
				if bad.Add(1) < 3 {
					t.Logf("bad message: %d bytes, id %d seq %d, %x", len(m), id, seq, m[:min(len(m), 48)])
				}
			}
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	rounds := qScale(10)
	for i := range rounds {
		p, err := qLoopProducer.Start(ctx, qStressArg{Q: q.Handle(), ID: uint64(i), N: 1 << 40, MinSize: 16, MaxSize: 1500, Seed: 1}, spawn.Share(region))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
		qKill(t, p)
	}
	// A live producer is served within the recovery bound.
	start := time.Now()
	last := make([]byte, 32)
	qStressMsg(last, 99, 0)
	if err := q.Put(ctx, last); err != nil {
		t.Fatal(err)
	}
	q.Close()
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d torn or corrupted messages delivered", bad.Load())
	}
	t.Logf("%d messages from %d killed producers, last put after %v", count.Load(), rounds, time.Since(start))
	if count.Load() == 0 {
		t.Fatal("nothing received")
	}
}

// qLockHolder takes the producers' claim lock and waits to be killed.
var qLockHolder = spawn.Register("queue.qLockHolder", func(ctx context.Context, a qCrashArg) (struct{}, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return struct{}{}, err
	}
	flag, err := shm.OpenValue[atomic.Uint32](a.Flag)
	if err != nil {
		return struct{}{}, err
	}
	if err := queue.HoldClaimLock(q); err != nil {
		return struct{}{}, err
	}
	flag.Ptr().Store(1)
	<-ctx.Done()
	return struct{}{}, nil
})

// TestQueueLockHolderKilled: a producer killed while it holds the claim
// lock blocks the other producers for the recovery bound only.
func TestQueueLockHolderKilled(t *testing.T) {
	ctx := qCtx(t)
	region := qRegion(t, 4<<20)
	q, err := queue.New(region, queue.Config{Bytes: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	flag, err := shm.NewValue[atomic.Uint32](region)
	if err != nil {
		t.Fatal(err)
	}
	p, err := qLockHolder.Start(ctx, qCrashArg{Q: q.Handle(), Flag: flag.Handle()}, spawn.Share(region))
	if err != nil {
		t.Fatal(err)
	}
	qWaitFlag(t, flag)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := q.Put(short, []byte("blocked")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put while a live process holds the lock = %v, want deadline exceeded", err)
	}
	killed := time.Now()
	qKill(t, p)
	if err := q.Put(ctx, []byte("through")); err != nil {
		t.Fatal(err)
	}
	d := time.Since(killed)
	t.Logf("put went through %v after the kill", d)
	if d > time.Second {
		t.Fatalf("recovery took %v", d)
	}
	if m, err := q.Get(ctx); err != nil || string(m) != "through" {
		t.Fatalf("%q, %v", m, err)
	}
}
