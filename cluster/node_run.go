package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const hdrNode = "Forkless-Node" // on a reject: the node

// outcome is what running one item came to.
type outcome struct {
	status uint8
	data   []byte   // the result
	fail   *failure // or why it failed
	retry  bool     // the item should run again (it panicked, its worker died)
	// permanent: the node cannot run the function (not registered): the
	// whole chunk fails and is terminated
	permanent bool
}

// handle takes one chunk from delivery to acknowledgement.
func (nd *node) handle(ctx context.Context, msg jetstream.Msg) {
	h := msg.Headers()
	reply := h.Get(hdrReply)
	if !strings.HasPrefix(reply, nd.n.results+".") || strings.Count(reply, ".") != strings.Count(nd.n.results, ".")+1 {
		nd.term(msg, "no result subject")
		return
	}
	if v := h.Get(hdrWire); v != strconv.Itoa(WireVersion) {
		nd.reject(ctx, msg, "version", fmt.Sprintf("the chunk is wire version %q, node %s speaks %d", v, nd.name, WireVersion))
		return
	}
	c, err := parseChunk(msg.Data())
	if err != nil {
		nd.reject(ctx, msg, kindOf(err), err.Error())
		return
	}
	key := strings.TrimPrefix(msg.Subject(), nd.n.work+".")
	meta, err := msg.Metadata()
	if err != nil {
		msg.TermWithReason("no metadata")
		return
	}
	attempt := c.Base + int(meta.NumDelivered)
	switch {
	case nd.cx.cancelled(key):
		msg.Ack()
		return
	case attempt > nd.limit:
		why := fmt.Sprintf("no result after %d deliveries: the worker or node running it died each time", attempt-1)
		nd.finish(ctx, msg, c, allFailed(c, &failure{Attempts: attempt - 1, Kind: "limit", Message: why}), true)
		return
	case !c.Deadline.IsZero() && time.Now().After(c.Deadline):
		dl := &failure{Attempts: attempt, Kind: "deadline", Message: "deadline " + c.Deadline.Format(time.RFC3339Nano)}
		nd.finish(ctx, msg, c, allFailed(c, dl), false)
		return
	case meta.NumDelivered > 1 && len(c.Items) > 1:
		// A node died running it: run each item on its own from now on, so
		// that one item that kills its runner fails alone.
		nd.split(ctx, msg, c, attempt-1)
		return
	}
	nd.run(ctx, msg, c, key, attempt)
}

// run runs a chunk's items under a heartbeat and publishes their results.
func (nd *node) run(ctx context.Context, msg jetstream.Msg, c *chunk, key string, attempt int) {
	rctx, stop := context.WithCancel(ctx)
	if !c.Deadline.IsZero() {
		rctx, stop = context.WithDeadline(ctx, c.Deadline)
	}
	defer stop()
	if !nd.cx.enter(key, &stop) {
		msg.Ack()
		return
	}
	nd.started(msg, c, attempt, key)
	beat := make(chan struct{})
	go func() {
		t := time.NewTicker(nd.beat)
		defer t.Stop()
		for {
			select {
			case <-beat:
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	}()
	var outs []outcome
	select {
	case nd.compute <- struct{}{}:
		if nd.pool != nil {
			outs = nd.runPool(rctx, c)
		} else {
			outs = nd.runHere(rctx, c)
		}
		<-nd.compute
	case <-rctx.Done():
	}
	close(beat)
	if nd.cx.leave(key, &stop) {
		msg.Ack() // cancelled: nobody wants the results
		return
	}
	if ctx.Err() != nil || outs == nil {
		msg.Nak() // the node is stopping: another takes it now
		return
	}
	if len(outs) > 0 && outs[0].permanent {
		nd.finish(ctx, msg, c, outs, true)
		return
	}
	var again []item
	for i := range outs {
		if !outs[i].retry {
			continue
		}
		if attempt < nd.limit {
			again = append(again, c.Items[i])
			outs[i].status = 0xff // not reported
			continue
		}
		outs[i].fail.Attempts, outs[i].fail.Limit = attempt, true
	}
	if len(again) > 0 {
		retried := *c
		retried.Items, retried.Base = again, attempt
		nd.republish(ctx, msg, []*chunk{&retried}, "r"+strconv.Itoa(attempt))
	}
	nd.finish(ctx, msg, c, outs, false)
}

// allFailed is every item of c failing with f.
func allFailed(c *chunk, f *failure) []outcome {
	return allOf(outcome{status: statusFailed, fail: f}, len(c.Items))
}

// finish publishes the outcomes of c that have a status to report, then
// acknowledges the chunk (Term when term is set: it must not run again).
func (nd *node) finish(ctx context.Context, msg jetstream.Msg, c *chunk, outs []outcome, term bool) {
	reply := msg.Headers().Get(hdrReply)
	rs := results{Task: c.Task, Node: nd.name}
	size := 0
	flush := func() bool {
		if len(rs.Items) == 0 {
			return true
		}
		m := &nats.Msg{Subject: reply, Data: appendResults(nil, &rs), Header: nats.Header{}}
		m.Header.Set(hdrTask, strconv.FormatUint(c.Task, 10))
		err := nd.answer(ctx, m)
		rs.Items, size = rs.Items[:0], 0
		return err == nil
	}
	for i, o := range outs {
		if o.status > statusFailed {
			continue
		}
		if o.fail != nil {
			o.data = o.fail.marshal()
		}
		rs.Items = append(rs.Items, item{Index: c.Items[i].Index, Status: o.status, Data: o.data})
		if size += len(o.data) + 16; size >= 4<<20 && !flush() {
			msg.Nak()
			return
		}
	}
	if !flush() {
		msg.Nak() // the node is stopping: the chunk goes to another
		return
	}
	if term {
		nd.term(msg, "failed for good")
	} else {
		msg.Ack()
	}
}

// reject answers a chunk the node cannot read, for all its items, and
// terminates it.
func (nd *node) reject(ctx context.Context, msg jetstream.Msg, kind, text string) {
	if kind == "" {
		kind = "malformed"
	}
	m := &nats.Msg{Subject: msg.Headers().Get(hdrReply), Header: nats.Header{}}
	m.Header.Set(hdrTask, msg.Headers().Get(hdrTask))
	m.Header.Set(hdrReject, kind)
	m.Header.Set(hdrText, text)
	m.Header.Set(hdrNode, nd.name)
	if err := nd.answer(ctx, m); err != nil {
		msg.Nak()
		return
	}
	nd.term(msg, kind)
}

// answerGrace bounds how long a stopping node goes on publishing an answer
// it had started.
const answerGrace = 5 * time.Second

// answer publishes m, an answer to a chunk (results or a rejection),
// retrying transient errors. A node asked to stop (ctx done) still
// finishes an answer it had started, for up to answerGrace: the server may
// already hold it, and a chunk handed back after that would be answered
// twice, or, rejected, left in the work stream (TestRejects stops its node
// as soon as the rejection arrives, before the node saw the server's
// acknowledgment).
func (nd *node) answer(ctx context.Context, m *nats.Msg) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerGrace)
	defer cancel()
	return retry(actx, func() error { _, err := nd.js.PublishMsg(actx, m); return err })
}

// term terminates msg (it must not be delivered again) and deletes it: a
// work-queue stream keeps a terminated message otherwise.
func (nd *node) term(msg jetstream.Msg, why string) {
	msg.TermWithReason(why)
	if meta, err := msg.Metadata(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nd.work.DeleteMsg(ctx, meta.Sequence.Stream)
	}
}

// split republishes each item of c as a chunk of its own, counting base
// deliveries, and acknowledges c.
func (nd *node) split(ctx context.Context, msg jetstream.Msg, c *chunk, base int) {
	parts := make([]*chunk, len(c.Items))
	for i := range c.Items {
		p := *c
		p.Items, p.Base = c.Items[i:i+1], base
		parts[i] = &p
	}
	if nd.republish(ctx, msg, parts, "s"+strconv.Itoa(base)) {
		msg.Ack()
	}
}

// republish publishes chunks in msg's place (its subject and headers, a
// message id of their own), and reports whether all went out; if not, msg
// is handed back (Nak).
func (nd *node) republish(ctx context.Context, msg jetstream.Msg, parts []*chunk, tag string) bool {
	for _, p := range parts {
		m := &nats.Msg{Subject: msg.Subject(), Data: appendChunk(nil, p), Header: nats.Header{}}
		for k, v := range msg.Headers() {
			if !strings.HasPrefix(k, "Nats-") {
				m.Header[k] = v
			}
		}
		id := fmt.Sprintf("%s.%s.%d", msg.Headers().Get(jetstream.MsgIDHeader), tag, p.Items[0].Index)
		m.Header.Set(jetstream.MsgIDHeader, id)
		if err := retry(ctx, func() error { _, err := nd.js.PublishMsg(ctx, m); return err }); err != nil {
			msg.Nak()
			return false
		}
	}
	return true
}

// started tells the caller that the node runs c (attempt counts its
// deliveries).
func (nd *node) started(msg jetstream.Msg, c *chunk, attempt int, key string) {
	client, _, _ := strings.Cut(key, ".")
	b := binary.AppendUvarint(nil, c.Task)
	b = binary.AppendUvarint(b, uint64(attempt))
	b = binary.AppendUvarint(b, uint64(len(c.Items)))
	b = appendString(b, nd.name)
	nd.nc.Publish(nd.n.status+"."+client, b)
	if attempt > 1 {
		// A delivery after a death: should this one die too, the caller
		// must have heard which node ran it (the error names it).
		nd.nc.Flush()
	}
}
