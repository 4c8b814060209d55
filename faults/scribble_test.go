//go:build linux

package faults_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

// Scribble scenarios: a bystander process uses one structure in a loop
// while this process writes random 8-byte words at random offsets of its
// region. The bystander must never panic or hang: every call returns nil,
// ErrCorrupt or another documented error within its context. A scribble
// into a payload is delivered as written (nothing checksums payloads):
// such items are counted, not failed.

var scribbleKinds = []string{"queue", "pipe", "spsc", "mpmc", "mutex", "rwmutex", "dict", "list"}

type scribbleArg struct {
	Kind    string
	H       shm.Handle
	P       [2]queue.PipeHandle
	S       shared.Handle
	Seconds float64
	Ready   shm.Handle // [1]uint64 in a region nobody scribbles: set once opened
}

type scribbleOut struct {
	Ops, Corrupt, Closed, Other, Late, BadItems int
	LastOther                                   string
}

var scribbled = spawn.Register("faults.scribbled", func(ctx context.Context, a scribbleArg) (scribbleOut, error) {
	var out scribbleOut
	op, err := scribbleOp(a)
	if err != nil {
		return out, err
	}
	ready, err := shm.OpenArray[uint64](a.Ready)
	if err != nil {
		return out, err
	}
	atomic.StoreUint64(&ready.Slice()[0], 1)
	end := time.Now().Add(time.Duration(a.Seconds * float64(time.Second)))
	for seq := uint64(0); time.Now().Before(end); seq++ {
		octx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		bad, err := op(octx, seq)
		cancel()
		out.Ops++
		if time.Since(start) > time.Second+100*time.Millisecond {
			out.Late++
		}
		if bad {
			out.BadItems++
		}
		switch {
		case err == nil, errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, errs.ErrCorrupt):
			out.Corrupt++
		case errors.Is(err, errs.ErrClosed): // a scribbled closed flag reads as closed
			out.Closed++
		default:
			out.Other++
			out.LastOther = err.Error()
		}
	}
	return out, nil
})

// scribbleOp opens the structure and returns one round of use: a put and
// a get, a lock and an unlock; bad reports an item that came back changed.
func scribbleOp(a scribbleArg) (func(context.Context, uint64) (bool, error), error) {
	switch a.Kind {
	case "queue", "spsc", "mpmc":
		ch, err := openChannel(chanHandles{Kind: a.Kind, H: a.H}, true)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, seq uint64) (bool, error) {
			if err := ch.put(ctx, 1, seq, 64); err != nil {
				return false, err
			}
			_, _, ok, err := ch.get(ctx)
			return !ok && err == nil, err
		}, nil
	case "pipe":
		x, err1 := queue.OpenPipe(a.P[0])
		y, err2 := queue.OpenPipe(a.P[1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		return func(ctx context.Context, seq uint64) (bool, error) {
			if err := y.Send(ctx, makeItem(1, seq, 64)); err != nil {
				return false, err
			}
			b, err := x.Recv(ctx)
			_, _, ok := parseItem(b)
			return !ok && err == nil, err
		}, nil
	case "mutex":
		m, err := fsync.OpenMutex(a.H)
		if err != nil {
			return nil, err
		}
		return lockRound(m.LockContext, m.Unlock, m.MarkConsistent), nil
	case "rwmutex":
		rw, err := fsync.OpenRWMutex(a.H)
		if err != nil {
			return nil, err
		}
		w := lockRound(rw.LockContext, rw.Unlock, rw.MarkConsistent)
		r := lockRound(rw.RLockContext, rw.RUnlock, nil)
		return func(ctx context.Context, seq uint64) (bool, error) {
			if seq%2 == 0 {
				return w(ctx, seq)
			}
			return r(ctx, seq)
		}, nil
	}
	return containerRound(a)
}

func lockRound(lock func(context.Context) error, unlock, mark func()) func(context.Context, uint64) (bool, error) {
	return func(ctx context.Context, _ uint64) (bool, error) {
		err := lock(ctx)
		if errors.Is(err, fsync.ErrOwnerDead) && mark != nil {
			mark()
			err = nil
		}
		if err == nil || errors.Is(err, fsync.ErrOwnerDead) {
			unlock()
		}
		return false, err
	}
}

func containerRound(a scribbleArg) (func(context.Context, uint64) (bool, error), error) {
	if a.Kind == "dict" {
		d, err := shared.OpenDict[string, pairVal](a.S)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, seq uint64) (bool, error) {
			k := strconv.Itoa(int(seq % 32))
			if err := d.SetContext(ctx, k, pairVal{int64(seq), -int64(seq)}); err != nil {
				return false, err
			}
			v, ok, err := d.GetContext(ctx, k)
			return ok && !v.ok(), err
		}, nil
	}
	l, err := shared.OpenList[pairVal](a.S)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, seq uint64) (bool, error) {
		if err := l.AppendContext(ctx, pairVal{int64(seq), -int64(seq)}); err != nil {
			return false, err
		}
		v, err := l.PopContext(ctx)
		return err == nil && !v.ok(), err
	}, nil
}

func TestScribble(t *testing.T) {
	for _, kind := range scribbleKinds {
		t.Run(kind, func(t *testing.T) { scribble(t, kind) })
	}
}

// makeScribbled makes the structure in a region of its own.
func makeScribbled(t *testing.T, kind string) (*shm.Region, scribbleArg) {
	a := scribbleArg{Kind: kind, Seconds: budget().Seconds()}
	if kind == "dict" || kind == "list" {
		m, err := shared.NewManager(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		_, a.S, err = makeContainer(m.Heap(), kind)
		if err != nil {
			t.Fatal(err)
		}
		return m.Heap().Region(), a
	}
	r, err := shm.New(256 << 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	switch kind {
	case "pipe":
		x, y, err := queue.NewPipe(r, qcfg, true)
		if err != nil {
			t.Fatal(err)
		}
		a.P = [2]queue.PipeHandle{x.Handle(), y.Handle()}
	case "mutex":
		m, err := fsync.NewMutex(r)
		if err != nil {
			t.Fatal(err)
		}
		a.H = m.Handle()
	case "rwmutex":
		rw, err := fsync.NewRWMutex(r)
		if err != nil {
			t.Fatal(err)
		}
		a.H = rw.Handle()
	default:
		h, err := makeChannel(r, kind)
		if err != nil {
			t.Fatal(err)
		}
		a.H = h.H
	}
	return r, a
}

func scribble(t *testing.T, kind string) {
	rnd := rng(t)
	snap := takeSnapshot()
	r, a := makeScribbled(t, kind)
	ctx, cancel := context.WithTimeout(context.Background(), budget()+10*time.Second)
	defer cancel()
	rr, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { rr.Close() }()
	ready, err := shm.NewArray[uint64](rr, 1)
	if err != nil {
		t.Fatal(err)
	}
	a.Ready = ready.Handle()
	p, err := scribbled.Start(ctx, a, spawn.Share(r, rr))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for atomic.LoadUint64(&ready.Slice()[0]) == 0 && ctx.Err() == nil {
		select {
		case <-p.Done():
		case <-time.After(time.Millisecond): // it reports through shared memory
			continue
		}
		break
	}
	row := faults.Row{Scenario: "scribble/" + kind}
	f := r.File()
	size := r.Size()
	base := a.H.Offset + a.P[0].Recv.Offset + a.S.Heap.Offset + a.S.Offset
	var word [8]byte
	for {
		select {
		case <-p.Done():
		case <-time.After(time.Duration(rnd.IntN(2000)) * time.Microsecond):
			off := rnd.Int64N(size/8) * 8
			if rnd.IntN(2) == 0 { // half of them into the structure's header words
				off = min(max(0, base+rnd.Int64N(640)-128), size-8) &^ 7
			}
			binary.LittleEndian.PutUint64(word[:], rnd.Uint64()>>uint(rnd.IntN(64)))
			if _, err := f.WriteAt(word[:], off); err == nil {
				row.Kills++
			}
			continue
		}
		break
	}
	out, err := p.Wait(ctx)
	switch {
	case ctx.Err() != nil:
		row.Hangs++
	case err != nil:
		row.Crashes++
		t.Errorf("bystander: %v", err)
	}
	row.Items, row.Hangs = int64(out.Ops), row.Hangs+out.Late
	row.Note = fmt.Sprintf("%d ErrCorrupt, %d ErrClosed, %d other errors, %d items delivered as scribbled",
		out.Corrupt, out.Closed, out.Other, out.BadItems)
	if out.LastOther != "" {
		row.Note += "; last other: " + out.LastOther
	}
	p.Close()
	r.Close()
	rr.Close()
	snap.leaks(&row)
	record(t, row)
}
