//go:build linux

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Kill scenarios over channels: producers or consumers of every kind are
// SIGKILLed at random moments and replaced, while the test process (the
// bystander) plays the other side. Every item carries (producer, sequence,
// checksum); producers count what Put acknowledged, consumers count what
// they saw, in shared arrays.

const (
	maxProducers = 256
	maxSeq       = 1 << 14
)

// tallies are the shared counters of one scenario.
type tallies struct {
	Acked    shm.Handle // [maxProducers]uint64: items acknowledged by producer p
	Seen     shm.Handle // [maxProducers*maxSeq]uint32: times item (p, s) was seen
	Counters shm.Handle // [2]uint64: torn items, items seen in all
}

type sideArg struct {
	Ch chanHandles
	T  tallies
	ID int // producer id
}

var producerFn = spawn.Register("faults.producer", func(ctx context.Context, a sideArg) (int, error) {
	ch, err := openChannel(a.Ch, true)
	if err != nil {
		return 0, err
	}
	acked, err := shm.OpenArray[uint64](a.T.Acked)
	if err != nil {
		return 0, err
	}
	return produce(ctx, ch, acked.Slice(), uint64(a.ID))
})

func produce(ctx context.Context, ch channel, acked []uint64, id uint64) (int, error) {
	for seq := uint64(0); seq < maxSeq; seq++ {
		if err := ch.put(ctx, id, seq, itemSize(seq)); err != nil {
			if ctx.Err() != nil {
				return int(seq), nil
			}
			return int(seq), fmt.Errorf("put %d/%d: %w", id, seq, err)
		}
		atomic.StoreUint64(&acked[id], seq+1)
	}
	<-ctx.Done()
	return maxSeq, nil
}

var consumerFn = spawn.Register("faults.consumer", func(ctx context.Context, a sideArg) (int, error) {
	ch, err := openChannel(a.Ch, false)
	if err != nil {
		return 0, err
	}
	seen, err := shm.OpenArray[uint32](a.T.Seen)
	if err != nil {
		return 0, err
	}
	ctr, err := shm.OpenArray[uint64](a.T.Counters)
	if err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		if err := consumeOne(ctx, ch, seen.Slice(), ctr.Slice()); err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
	}
})

// consumeOne gets one item and counts it.
func consumeOne(ctx context.Context, ch channel, seen []uint32, ctr []uint64) error {
	p, s, ok, err := ch.get(ctx)
	if err != nil {
		return err
	}
	if !ok || p >= maxProducers || s >= maxSeq {
		atomic.AddUint64(&ctr[0], 1)
	} else {
		atomic.AddUint32(&seen[p*maxSeq+s], 1)
	}
	atomic.AddUint64(&ctr[1], 1)
	return nil
}

// chanRig is one scenario's region, channel and counters.
type chanRig struct {
	r          *shm.Region
	h          chanHandles
	t          tallies
	acked, ctr []uint64
	seen       []uint32
	hangs      atomic.Int64
	nextID     atomic.Int64 // producer ids: 0 is never used
}

// newID returns a fresh producer id, or false when they ran out.
func (c *chanRig) newID() (uint64, bool) {
	id := c.nextID.Add(1)
	return uint64(id), id < maxProducers
}

func newChanRig(t *testing.T, kind string) *chanRig {
	r, err := shm.New(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c := &chanRig{r: r}
	// The counters first: a queue's default spill area takes half of the
	// room it finds.
	acked, err1 := shm.NewArray[uint64](r, maxProducers)
	seen, err2 := shm.NewArray[uint32](r, maxProducers*maxSeq)
	ctr, err3 := shm.NewArray[uint64](r, 2)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if c.h, err = makeChannel(r, kind); err != nil {
		t.Fatal(err)
	}
	c.t = tallies{acked.Handle(), seen.Handle(), ctr.Handle()}
	c.acked, c.seen, c.ctr = acked.Slice(), seen.Slice(), ctr.Slice()
	return c
}

// timed runs op with a one-second context and counts a hang when it
// returns more than a second after its deadline.
func (c *chanRig) timed(ctx context.Context, op func(context.Context) error) error {
	octx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	err := op(octx)
	if time.Since(start) > 2*time.Second {
		c.hangs.Add(1)
	}
	return err
}

func TestKillChannels(t *testing.T) {
	for _, kind := range chanKinds {
		for _, side := range []string{"producer", "consumer"} {
			t.Run(kind+"/kill-"+side, func(t *testing.T) { killChannel(t, kind, side) })
		}
	}
}

func killChannel(t *testing.T, kind, side string) {
	rnd := rng(t)
	snap := takeSnapshot()
	c := newChanRig(t, kind)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	row := faults.Row{Scenario: kind + "/kill-" + side}
	n := 2
	if single(kind) {
		n = 1
	}
	start := func() (*spawn.Process[int], error) {
		if side == "producer" {
			id, ok := c.newID()
			if !ok {
				return nil, errors.New("out of producer ids")
			}
			return producerFn.Start(ctx, sideArg{c.h, c.t, int(id)}, spawn.Share(c.r))
		}
		return consumerFn.Start(ctx, sideArg{Ch: c.h, T: c.t}, spawn.Share(c.r))
	}
	victims := make([]*spawn.Process[int], n)
	for i := range victims {
		p, err := start()
		if err != nil {
			t.Fatal(err)
		}
		victims[i] = p
	}
	bctx, stopBystander := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.bystander(bctx, side) }()

	deadline := time.Now().Add(budget())
	for time.Now().Before(deadline) && c.nextID.Load() < maxProducers-8 {
		time.Sleep(time.Duration(2+rnd.IntN(30)) * time.Millisecond) // a random moment
		i := rnd.IntN(n)
		select {
		case <-victims[i].Done():
			_, err := victims[i].Wait(ctx)
			t.Errorf("%s %d ended by itself: %v", side, victims[i].Pid(), err)
		default:
		}
		before := atomic.LoadUint64(&c.ctr[1])
		if err := victims[i].Kill(); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		victims[i].Wait(ctx)
		row.Kills++
		p, err := start()
		if err != nil {
			t.Fatal(err)
		}
		victims[i] = p
		row.Recovery = append(row.Recovery, waitProgress(&c.ctr[1], before, killed, &row))
	}
	c.finish(t, ctx, side, victims, stopBystander, done, &row)
	if side == "consumer" {
		row.Bound = int64(row.Kills)
	}
	c.r.Close()
	snap.leaks(&row)
	record(t, row)
}

// waitProgress returns how long after the kill the channel delivered an
// item again; more than five seconds counts as a hang.
func waitProgress(ctr *uint64, before uint64, killed time.Time, row *faults.Row) time.Duration {
	for atomic.LoadUint64(ctr) <= before {
		if time.Since(killed) > 5*time.Second {
			row.Hangs++
			return time.Since(killed)
		}
		time.Sleep(200 * time.Microsecond) // measuring: the counter is in another process's hands
	}
	return time.Since(killed)
}

// bystander plays the side not being killed, in this process.
func (c *chanRig) bystander(ctx context.Context, side string) error {
	ch, err := openChannel(c.h, side == "consumer")
	if err != nil {
		return err
	}
	defer ch.close() // the scenario is over: closing it for everyone is fine
	var id uint64
	if side == "consumer" {
		id, _ = c.newID()
	}
	for seq := uint64(0); ctx.Err() == nil; seq++ {
		if side == "consumer" {
			if seq >= maxSeq {
				var ok bool
				if id, ok = c.newID(); !ok {
					<-ctx.Done()
					break
				}
				seq = 0
			}
			err = c.timed(ctx, func(ctx context.Context) error { return ch.put(ctx, id, seq, itemSize(seq)) })
			if err == nil {
				atomic.StoreUint64(&c.acked[id], seq+1)
			} else {
				seq-- // not sent: send the same item again, so acked[id] counts only sent ones
			}
		} else {
			err = c.timed(ctx, func(ctx context.Context) error { return consumeOne(ctx, ch, c.seen, c.ctr) })
		}
		if errors.Is(err, queue.ErrClosed) {
			time.Sleep(time.Millisecond) // a pipe whose sender died: the next sender reopens it
			continue
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	return nil
}

// finish stops the killing, lets the channel drain, stops everyone and
// tallies the shared counters into row.
func (c *chanRig) finish(t *testing.T, ctx context.Context, side string, victims []*spawn.Process[int],
	stopBystander func(), done chan error, row *faults.Row) {
	if side == "consumer" {
		stopBystander()
		if err := <-done; err != nil {
			t.Errorf("bystander: %v", err)
		}
		quiesce(&c.ctr[1])
		stopAll(t, victims)
	} else {
		stopAll(t, victims)
		quiesce(&c.ctr[1])
		stopBystander()
		if err := <-done; err != nil {
			t.Errorf("bystander: %v", err)
		}
	}
	var missing int64
	for p := range maxProducers {
		for s := range atomic.LoadUint64(&c.acked[p]) {
			switch n := atomic.LoadUint32(&c.seen[uint64(p)*maxSeq+s]); {
			case n == 0:
				missing++
				if missing <= 12 {
					t.Logf("unseen: producer %d item %d (of %d acknowledged)", p, s, atomic.LoadUint64(&c.acked[p]))
				}
			case n > 1:
				row.Dup += int64(n - 1)
			}
		}
	}
	row.Items = int64(atomic.LoadUint64(&c.ctr[1]))
	row.Torn = int64(atomic.LoadUint64(&c.ctr[0]))
	row.Hangs += int(c.hangs.Load())
	bound := int64(0)
	if side == "consumer" {
		bound = int64(row.Kills)
	}
	row.Lost = max(0, missing-bound)
	row.Note = fmt.Sprintf("%d acknowledged items unseen", missing)
}

// quiesce returns once the counter has not moved for a second.
func quiesce(ctr *uint64) {
	last, since := atomic.LoadUint64(ctr), time.Now()
	for time.Since(since) < time.Second {
		time.Sleep(20 * time.Millisecond) // draining: progress is other processes'
		if n := atomic.LoadUint64(ctr); n != last {
			last, since = n, time.Now()
		}
	}
}

// stopAll ends the victims: SIGTERM, then SIGKILL after a grace.
func stopAll(t *testing.T, ps []*spawn.Process[int]) {
	for _, p := range ps {
		select {
		case <-p.Done():
			_, err := p.Wait(context.Background())
			t.Logf("victim %d ended by itself: %v", p.Pid(), err)
		default:
		}
		if err := p.Stop(500 * time.Millisecond); err != nil {
			t.Logf("stop %d: %v", p.Pid(), err)
		}
		p.Close()
	}
}

var _ = rand.IntN
