package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// runHere runs c's items one after the other in this process. It returns
// nil if ctx ended before the last item.
func (nd *node) runHere(ctx context.Context, c *chunk) []outcome {
	outs := make([]outcome, len(c.Items))
	for i, it := range c.Items {
		if ctx.Err() != nil {
			return nil
		}
		out, err := pool.RunEncoded(ctx, c.Func, it.Data)
		if err == nil {
			outs[i] = outcome{status: statusOK, data: out}
			continue
		}
		var ce *spawn.ChildError
		if !errors.As(err, &ce) {
			ce = &spawn.ChildError{Func: c.Func, Message: err.Error(), Type: fmt.Sprintf("%T", err)}
		}
		outs[i] = childOutcome(ce)
		if outs[i].permanent {
			return allOf(outs[i], len(c.Items))
		}
		if ctx.Err() != nil { // the item saw its context end: not its own failure
			return nil
		}
	}
	return outs
}

// childOutcome is the outcome of an item whose function failed: a panic is
// run again (up to the limit), an error is final.
func childOutcome(ce *spawn.ChildError) outcome {
	return outcome{status: statusFailed, fail: &failure{Child: ce}, retry: ce.Panicked,
		permanent: errors.Is(ce, spawn.ErrNotRegistered)}
}

func allOf(o outcome, n int) []outcome {
	outs := make([]outcome, n)
	for i := range outs {
		outs[i] = o
	}
	return outs
}

// runPool runs c's items on the node's pool of worker processes, through
// runItem. It returns nil if ctx ended first.
func (nd *node) runPool(ctx context.Context, c *chunk) []outcome {
	calls := make([][]byte, len(c.Items))
	for i, it := range c.Items {
		calls[i] = append(appendString(make([]byte, 0, len(c.Func)+len(it.Data)+4), c.Func), it.Data...)
	}
	res, err := pool.Map(ctx, nd.pool, runItem, calls)
	if ctx.Err() != nil {
		return nil
	}
	outs := make([]outcome, len(c.Items))
	var me *pool.MapError
	if err != nil && !errors.As(err, &me) {
		return allOf(outcome{status: statusFailed, fail: &failure{Message: err.Error()}}, len(c.Items))
	}
	failed := map[int]error{}
	if me != nil {
		for _, f := range me.Failed {
			failed[f.Index] = f.Err
		}
	}
	for i := range outs {
		if ferr, ok := failed[i]; ok {
			var we *pool.WorkerError
			outs[i] = outcome{status: statusFailed, fail: &failure{Message: ferr.Error()}, retry: errors.As(ferr, &we)}
			continue
		}
		outs[i] = decodeCall(res[i])
		if outs[i].permanent {
			return allOf(outs[i], len(c.Items))
		}
	}
	return outs
}

// runItem runs one item in a pool worker: its argument is the function's
// name (uvarint length first) and the item's encoded argument; its result
// is a status byte and the encoded result, or the ChildError as JSON. It
// never fails, so the pool's own errors are those of the worker.
var runItem = spawn.Register("cluster.runItem", func(ctx context.Context, call []byte) ([]byte, error) {
	r := reader{b: call}
	fn := r.string("function")
	if r.err != nil {
		return nil, r.err
	}
	out, err := pool.RunEncoded(ctx, fn, r.b)
	if err != nil {
		var ce *spawn.ChildError
		if !errors.As(err, &ce) {
			ce = &spawn.ChildError{Func: fn, Message: err.Error()}
		}
		b, _ := json.Marshal(ce)
		return append([]byte{statusFailed}, b...), nil
	}
	return append([]byte{statusOK}, out...), nil
}, spawn.WithCodec(bytesCodec{}))

// decodeCall turns runItem's result into an outcome.
func decodeCall(b []byte) outcome {
	if len(b) == 0 {
		return outcome{status: statusFailed, fail: &failure{Kind: "malformed", Message: "empty result from a worker"}}
	}
	if b[0] == statusOK {
		return outcome{status: statusOK, data: b[1:]}
	}
	var ce spawn.ChildError
	if err := json.Unmarshal(b[1:], &ce); err != nil {
		return outcome{status: statusFailed, fail: &failure{Kind: "malformed", Message: err.Error()}}
	}
	return childOutcome(&ce)
}

// bytesCodec carries a []byte as itself.
type bytesCodec struct{}

func (bytesCodec) Encode(v any) ([]byte, error) {
	p, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("bytes codec: %T", v)
	}
	return *p, nil
}

func (bytesCodec) Decode(b []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("bytes codec: %T", v)
	}
	*p = bytes.Clone(b)
	return nil
}
