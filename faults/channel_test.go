//go:build linux

package faults_test

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/ring"
	"github.com/forkless-go/forkless/shm"
)

// chanKinds are the message channels every kill scenario runs over.
var chanKinds = []string{"queue", "joinable", "of", "pipe", "spsc", "mpmc"}

// single says whether a kind has one producer and one consumer at a time.
func single(kind string) bool { return kind == "pipe" || kind == "spsc" }

// chanHandles names one channel in a child's argument.
type chanHandles struct {
	Kind       string
	H          shm.Handle
	Send, Recv queue.PipeHandle // a pipe's producer end and consumer end
}

// channel is one process's view of a channel: puts and gets of items.
type channel interface {
	put(ctx context.Context, prod, seq uint64, size int) error
	get(ctx context.Context) (prod, seq uint64, ok bool, err error)
	close() error
}

// qcfg keeps rings small, so that a big item goes the spill way.
var qcfg = queue.Config{Bytes: 64 << 10}

func makeChannel(r *shm.Region, kind string) (chanHandles, error) {
	h := chanHandles{Kind: kind}
	var err error
	switch kind {
	case "queue":
		var q *queue.Queue
		if q, err = queue.New(r, qcfg); err == nil {
			h.H = q.Handle()
		}
	case "joinable":
		var q *queue.Joinable
		if q, err = queue.NewJoinable(r, qcfg); err == nil {
			h.H = q.Handle()
		}
	case "of":
		var q *queue.Of[item]
		if q, err = queue.NewOf(r, qcfg, rawItem()); err == nil {
			h.H = q.Handle()
		}
	case "pipe":
		var rd, wr *queue.Pipe
		if rd, wr, err = queue.NewPipe(r, qcfg, false); err == nil {
			h.Recv, h.Send = rd.Handle(), wr.Handle()
		}
	case "spsc":
		var q *ring.SPSC[item]
		if q, err = ring.NewSPSC[item](r, 1024); err == nil {
			h.H = q.Handle()
		}
	case "mpmc":
		var q *ring.MPMC[item]
		if q, err = ring.NewMPMC[item](r, 1024); err == nil {
			h.H = q.Handle()
		}
	default:
		err = fmt.Errorf("unknown channel kind %q", kind)
	}
	return h, err
}

func rawItem() queue.RawCodec[item] {
	c, err := queue.NewRawCodec[item]()
	if err != nil {
		panic("forkless/faults: item is not raw: " + err.Error())
	}
	return c
}

// openChannel binds h in this process, as a producer or a consumer.
func openChannel(h chanHandles, producer bool) (channel, error) {
	switch h.Kind {
	case "queue":
		q, err := queue.Open(h.H)
		if err != nil {
			return nil, err
		}
		return bytesChan{q.Put, q.Get, q.Close}, nil
	case "joinable":
		q, err := queue.OpenJoinable(h.H)
		if err != nil {
			return nil, err
		}
		get := func(ctx context.Context) ([]byte, error) {
			b, err := q.Get(ctx)
			if err == nil {
				err = q.TaskDone()
			}
			return b, err
		}
		return bytesChan{q.Put, get, q.Close}, nil
	case "of":
		q, err := queue.OpenOf(h.H, rawItem())
		if err != nil {
			return nil, err
		}
		return fixedChan{q.Put, q.Get, q.Close}, nil
	case "pipe":
		ph := h.Recv
		if producer {
			ph = h.Send
		}
		p, err := queue.OpenPipe(ph)
		if err != nil {
			return nil, err
		}
		return bytesChan{p.Send, p.Recv, p.Close}, nil
	case "spsc":
		q, err := ring.OpenSPSC[item](h.H)
		if err != nil {
			return nil, err
		}
		return fixedChan{q.Push, q.Pop, q.Close}, nil
	case "mpmc":
		q, err := ring.OpenMPMC[item](h.H)
		if err != nil {
			return nil, err
		}
		return fixedChan{q.Push, q.Pop, q.Close}, nil
	}
	return nil, fmt.Errorf("unknown channel kind %q", h.Kind)
}

// bytesChan carries items as messages of varied length: one in 64 is
// larger than half the ring, so it travels the spill way.
type bytesChan struct {
	putf func(context.Context, []byte) error
	getf func(context.Context) ([]byte, error)
	clsf func() error
}

func (c bytesChan) close() error { return c.clsf() }

func (c bytesChan) put(ctx context.Context, prod, seq uint64, size int) error {
	return c.putf(ctx, makeItem(prod, seq, size))
}

func (c bytesChan) get(ctx context.Context) (uint64, uint64, bool, error) {
	b, err := c.getf(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	p, s, ok := parseItem(b)
	return p, s, ok, nil
}

// fixedChan carries items as fixed-size values.
type fixedChan struct {
	putf func(context.Context, item) error
	getf func(context.Context) (item, error)
	clsf func() error
}

func (c fixedChan) close() error { return c.clsf() }

func (c fixedChan) put(ctx context.Context, prod, seq uint64, _ int) error {
	return c.putf(ctx, fixedItem(prod, seq))
}

func (c fixedChan) get(ctx context.Context) (uint64, uint64, bool, error) {
	it, err := c.getf(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	return it.Prod, it.Seq, it.ok(), nil
}

// itemSize picks a message size: mostly small, one in 64 spilled.
func itemSize(seq uint64) int {
	if seq%64 == 63 {
		return 40 << 10
	}
	return itemHeader + int(seq*7919%200)
}
