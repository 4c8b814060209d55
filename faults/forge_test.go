//go:build linux

package faults_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/shm"
	fsync "github.com/forkless-go/forkless/sync"
)

// Forged handles: real handles with fields changed at random, and random
// ones, given to every Open function of every kind, in this process. Every
// call must return an error or a working object: never panic.

type opener struct {
	name string
	open func(shm.Handle) error
}

func openers() []opener {
	return []opener{
		{"queue", func(h shm.Handle) error { _, err := queue.Open(h); return err }},
		{"joinable", func(h shm.Handle) error { _, err := queue.OpenJoinable(h); return err }},
		{"of", func(h shm.Handle) error { _, err := queue.OpenOf(h, rawItem()); return err }},
		{"pipe", func(h shm.Handle) error { _, err := queue.OpenPipe(queue.PipeHandle{Send: h, Recv: h}); return err }},
		{"spsc", func(h shm.Handle) error { _, err := ring.OpenSPSC[item](h); return err }},
		{"mpmc", func(h shm.Handle) error { _, err := ring.OpenMPMC[item](h); return err }},
		{"mutex", func(h shm.Handle) error { _, err := fsync.OpenMutex(h); return err }},
		{"rlock", func(h shm.Handle) error { _, err := fsync.OpenRLock(h); return err }},
		{"rwmutex", func(h shm.Handle) error { _, err := fsync.OpenRWMutex(h); return err }},
		{"semaphore", func(h shm.Handle) error { _, err := fsync.OpenSemaphore(h); return err }},
		{"event", func(h shm.Handle) error { _, err := fsync.OpenEvent(h); return err }},
		{"cond", func(h shm.Handle) error { _, err := fsync.OpenCond(h); return err }},
		{"barrier", func(h shm.Handle) error { _, err := fsync.OpenBarrier(h); return err }},
		{"waitgroup", func(h shm.Handle) error { _, err := fsync.OpenWaitGroup(h); return err }},
		{"value", func(h shm.Handle) error { _, err := shm.OpenValue[item](h); return err }},
		{"array", func(h shm.Handle) error { _, err := shm.OpenArray[item](h); return err }},
		{"heap", func(h shm.Handle) error { _, err := shm.OpenHeap(h); return err }},
		{"dict", func(h shm.Handle) error {
			_, err := shared.OpenDict[string, pairVal](shared.Handle{Heap: h, Offset: h.Offset, Kind: h.Kind})
			return err
		}},
		{"list", func(h shm.Handle) error {
			_, err := shared.OpenList[pairVal](shared.Handle{Heap: h, Offset: h.Size, Kind: h.Kind})
			return err
		}},
	}
}

// realHandles makes one object of several kinds in r, to forge from.
func realHandles(t *testing.T, r *shm.Region) []shm.Handle {
	var hs []shm.Handle
	for _, kind := range chanKinds {
		h, err := makeChannel(r, kind)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h.H, h.Send.Send, h.Recv.Recv)
	}
	for _, kind := range lockKinds[:3] {
		h, err := newLock(r, kind)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

func forge(rnd *rand.Rand, real []shm.Handle) shm.Handle {
	h := real[rnd.IntN(len(real))]
	switch rnd.IntN(7) {
	case 0:
		h.Offset += int64(rnd.IntN(4096)) - 2048
	case 1:
		h.Size = rnd.Int64() >> uint(rnd.IntN(64))
	case 2:
		h.Kind = shm.Kind(rnd.Uint32())
	case 3:
		h.Elem, h.Type = rnd.Uint32(), rnd.Uint64()
	case 4:
		h.Region = rnd.Uint64()
	case 5:
		h.Offset = rnd.Int64() >> uint(rnd.IntN(64))
	default:
		var b [64]byte
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		var g shm.Handle
		if g.UnmarshalBinary(b[:rnd.IntN(len(b))]) == nil {
			return g
		}
	}
	return h
}

func TestForgedHandles(t *testing.T) {
	rnd := rng(t)
	snap := takeSnapshot()
	r, err := shm.New(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	real := realHandles(t, r)
	row := faults.Row{Scenario: "forge/handles"}
	ops := openers()
	n := 2000 * max(1, int(budget()/(400*1e6)))
	opened := 0
	for range n {
		h := forge(rnd, real)
		o := ops[rnd.IntN(len(ops))]
		row.Kills++
		if err, panicked := tryOpen(o, h); panicked != nil {
			row.Crashes++
			t.Errorf("%s(%+v) panicked: %v", o.name, h, panicked)
		} else if err == nil {
			opened++
		}
	}
	row.Items = int64(n)
	row.Note = fmt.Sprintf("%d forgeries opened (a forged handle may name a real object of its kind)", opened)
	r.Close()
	snap.leaks(&row)
	record(t, row)
}

func tryOpen(o opener, h shm.Handle) (err error, panicked any) {
	defer func() { panicked = recover() }()
	return o.open(h), nil
}
