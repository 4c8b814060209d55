package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/spawn"
)

// Sentinel errors of the cluster; test with errors.Is. They are registered
// with spawn.RegisterError, so they survive a trip through a process.
var (
	// ErrWireVersion: a node and its caller speak different wire versions.
	ErrWireVersion = errors.New("cluster wire version mismatch")
	// ErrMalformed: a message could not be decoded.
	ErrMalformed = errors.New("malformed cluster message")
	// ErrDeliveryLimit: an item panicked, killed its worker or its node on
	// every delivery, up to the limit (MaxDeliver).
	ErrDeliveryLimit = errors.New("item failed on every delivery up to the limit")
	// ErrDeadline: the item's deadline (JobTimeout) passed before it ran.
	ErrDeadline = errors.New("cluster item deadline passed")
	// ErrClosed: the executor was closed.
	ErrClosed = errors.New("cluster executor closed")
)

func init() {
	spawn.RegisterError(ErrWireVersion, ErrMalformed, ErrDeliveryLimit, ErrDeadline, ErrClosed)
}

// NodeError is the failure of one item on a node: the function's error or
// panic (Err is then a *spawn.ChildError), a dead worker or node after the
// delivery limit (ErrDeliveryLimit), a function the node does not know
// (spawn.ErrNotRegistered), another wire version (ErrWireVersion).
type NodeError struct {
	Node     string // the node that reported it (host/pid, or its Name)
	Func     string // the registered function
	Attempts int    // deliveries of the item, this one included
	Err      error
}

func (e *NodeError) Error() string {
	tries := ""
	if e.Attempts > 1 {
		tries = fmt.Sprintf(" (after %d deliveries)", e.Attempts)
	}
	return fmt.Sprintf("cluster node %s: %s%s: %v", e.Node, e.Func, tries, e.Err)
}

func (e *NodeError) Unwrap() error { return e.Err }

// failure is a failed item on the wire (JSON): either a ChildError (the
// function's own error or panic, or a name the node does not know), or a
// message and the sentinels' keys.
type failure struct {
	Attempts int               `json:"a,omitempty"`
	Child    *spawn.ChildError `json:"c,omitempty"`
	Message  string            `json:"m,omitempty"`
	Kind     string            `json:"k,omitempty"` // a sentinel of this package, by name
	Limit    bool              `json:"l,omitempty"` // the delivery limit was reached
}

// kinds names the sentinels a failure may carry.
var kinds = map[string]error{
	"version": ErrWireVersion, "malformed": ErrMalformed, "limit": ErrDeliveryLimit,
	"deadline": ErrDeadline, "unregistered": spawn.ErrNotRegistered,
}

func kindOf(err error) string {
	for k, s := range kinds {
		if errors.Is(err, s) {
			return k
		}
	}
	return ""
}

func (f *failure) marshal() []byte {
	b, err := json.Marshal(f)
	if err != nil { // a ChildError holds only strings, ints and bools
		panic("forkless/cluster: marshal failure: " + err.Error())
	}
	return b
}

// nodeError rebuilds the error node reported for an item of fn. When the
// item ran out of deliveries because its runner died each time, the error
// names last, the node that last said it ran the item, if known.
func nodeError(node, last, fn string, data []byte) *NodeError {
	var f failure
	if err := json.Unmarshal(data, &f); err != nil {
		return &NodeError{Node: node, Func: fn, Err: fmt.Errorf("decode failure: %v: %w", err, ErrMalformed)}
	}
	var err error
	switch {
	case f.Child != nil:
		err = f.Child
	case f.Kind == "limit" && last != "" && last != node:
		err = fmt.Errorf("%s (last run on node %s; reported by node %s): %w", f.Message, last, node, ErrDeliveryLimit)
		node = last
	case kinds[f.Kind] != nil:
		err = fmt.Errorf("%s: %w", f.Message, kinds[f.Kind])
	default:
		err = errors.New(f.Message)
	}
	if f.Limit && f.Kind != "limit" {
		err = fmt.Errorf("%w: %w", ErrDeliveryLimit, err)
	}
	return &NodeError{Node: node, Func: fn, Attempts: f.Attempts, Err: err}
}
