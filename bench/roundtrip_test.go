//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// The round trips of BenchmarkPingPong that carry no data: a forkless
// sync.Event pair, and the floor of any shared-memory hand-off that
// sleeps, a bare futex ping-pong (no spin: every hop is a FUTEX_WAKE and,
// unless the peer already moved on, a FUTEX_WAIT).

// eventArg names the two events of an Event ping-pong and its round count.
type eventArg struct {
	Ping, Pong shm.Handle
	N          int
}

// eventEcho waits for ping and answers with pong, N times.
var eventEcho = spawn.Register("bench.eventEcho", func(ctx context.Context, a eventArg) (struct{}, error) {
	ping, err := fsync.OpenEvent(a.Ping)
	if err != nil {
		return struct{}{}, err
	}
	pong, err := fsync.OpenEvent(a.Pong)
	if err != nil {
		return struct{}{}, err
	}
	for range a.N {
		if err := ping.WaitContext(ctx); err != nil {
			return struct{}{}, err
		}
		ping.Clear()
		pong.Set()
	}
	return struct{}{}, nil
})

// pingPongEvent is BenchmarkPingPong's impl=event: Set the child's event,
// wait for its answer on another, as sync's BenchmarkEventPingPong does,
// in this package's harness.
func pingPongEvent(b *testing.B) {
	ctx := context.Background()
	r, err := shm.New(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ping, err := fsync.NewEvent(r)
	if err != nil {
		b.Fatal(err)
	}
	pong, err := fsync.NewEvent(r)
	if err != nil {
		b.Fatal(err)
	}
	p, err := eventEcho.Start(ctx, eventArg{ping.Handle(), pong.Handle(), b.N + 1}, spawn.Share(r))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	var failed error
	roundTrip := func() {
		if failed != nil {
			return
		}
		ping.Set()
		failed = pong.WaitContext(ctx)
		pong.Clear()
	}
	roundTrip() // the child is up before the clock starts
	roundTrips(b, roundTrip)
	if _, err := p.Wait(ctx); err != nil {
		b.Errorf("echo child: %v", err)
	}
	if failed != nil {
		b.Fatal(failed)
	}
}

// futexWords is the block of a futex ping-pong: the ping word at 0 and the
// pong word at 64, on cache lines of their own. The parent writes ping (the
// round number, futexStop to end), the child writes pong (the round it
// answered).
const (
	futexPingOff = 0
	futexPongOff = 64
	futexStop    = ^uint32(0)
)

// futexWait sleeps until *w differs from old, waking every 100 ms to check
// ctx: the peer may have died.
func futexWait(ctx context.Context, w *atomic.Uint32, old uint32) (uint32, error) {
	for {
		if v := w.Load(); v != old {
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := futex.Wait(w, old, 100*time.Millisecond); err != nil && !errors.Is(err, futex.ErrTimeout) {
			return 0, err
		}
	}
}

// futexEcho answers each round on the ping word with the same number on
// the pong word, until the parent writes futexStop.
var futexEcho = spawn.Register("bench.futexEcho", func(ctx context.Context, h shm.Handle) (struct{}, error) {
	blk, err := shm.BindHandle(h, shm.KindBytes)
	if err != nil {
		return struct{}{}, err
	}
	if blk.Len() < futexPongOff+4 {
		return struct{}{}, fmt.Errorf("futex block of %d bytes", blk.Len())
	}
	ping, pong := blk.Uint32(futexPingOff), blk.Uint32(futexPongOff)
	seen := uint32(0)
	for {
		v, err := futexWait(ctx, ping, seen)
		if err != nil {
			return struct{}{}, err
		}
		if v == futexStop {
			return struct{}{}, nil
		}
		seen = v
		pong.Store(v)
		if _, err := futex.Wake(pong, 1); err != nil {
			return struct{}{}, err
		}
	}
})

// pingPongFutex is BenchmarkPingPong's impl=futex.
func pingPongFutex(b *testing.B) {
	ctx := context.Background()
	r, err := shm.New(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	blk, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 128})
	if err != nil {
		b.Fatal(err)
	}
	ping, pong := blk.Uint32(futexPingOff), blk.Uint32(futexPongOff)
	p, err := futexEcho.Start(ctx, blk.Handle(), spawn.Share(r))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	round := uint32(0)
	var failed error
	roundTrip := func() {
		if failed != nil {
			return
		}
		round++
		ping.Store(round)
		if _, err := futex.Wake(ping, 1); err != nil {
			failed = err
			return
		}
		for failed == nil {
			var v uint32
			if v, failed = futexWait(ctx, pong, round-1); v == round {
				return
			}
		}
	}
	roundTrip() // the child is up before the clock starts
	roundTrips(b, roundTrip)
	ping.Store(futexStop)
	futex.Wake(ping, 1)
	if _, err := p.Wait(ctx); err != nil {
		b.Errorf("echo child: %v", err)
	}
	if failed != nil {
		b.Fatal(failed)
	}
}
