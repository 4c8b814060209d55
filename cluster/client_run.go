package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// publishTimeout bounds how long RunJob retries a publish (the server may
// be restarting) before it fails the items.
const publishTimeout = 2 * time.Minute

// RunJob publishes items [lo, hi) of job to the work stream, in chunks of
// at most chunk items (and MaxChunk, and 512 KiB of arguments). See
// pool.Executor.
func (e *Executor) RunJob(job *pool.Job, lo, hi, size int) error {
	size = min(max(size, 1), e.cfg.maxChunk)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("run %s: %w", job.Func(), ErrClosed)
	}
	cj := e.jobs[job]
	if cj == nil {
		cj = &cjob{id: e.taskID.Add(1), job: job, tasks: map[uint64]*ctask{}}
		e.jobs[job] = cj
	}
	e.mu.Unlock()
	head := chunk{Job: cj.id, Func: job.Func(), Codec: codecName(job.Codec())}
	if e.cfg.jobTimeout > 0 {
		head.Deadline = time.Now().Add(e.cfg.jobTimeout)
	}
	if d, ok := job.Deadline(); ok && (head.Deadline.IsZero() || d.Before(head.Deadline)) {
		head.Deadline = d // the caller's context's: no node starts what nobody waits for
	}
	subj := e.n.work + "." + e.jobKey(cj.id)
	var msgs []*nats.Msg
	var tasks []*ctask
	var bad []int // items whose argument could not be encoded
	var badErr []error
	var args, arg []byte
	for i := lo; i < hi; {
		args = args[:0]
		start, n := i, 0
		for ; i < hi && i-start < size && (n == 0 || len(args) < e.cfg.maxBytes); i++ {
			var err error
			if arg, err = job.AppendArg(arg[:0], i); err != nil {
				bad, badErr = append(bad, i), append(badErr, err)
				continue
			}
			args = binary.AppendUvarint(args, uint64(i))
			args = binary.AppendUvarint(args, uint64(len(arg)))
			args = append(args, arg...)
			n++
		}
		if n == 0 {
			continue
		}
		t := &ctask{id: e.taskID.Add(1), job: cj, lo: start, got: make([]bool, i-start), left: i - start}
		for _, b := range bad { // items that failed to encode are not out
			if b >= start && b < i {
				t.got[b-start] = true
				t.left--
			}
		}
		tasks = append(tasks, t)
		head.Task = t.id
		body := appendChunkHead(make([]byte, 0, 64+len(args)), &head)
		body = binary.AppendUvarint(body, uint64(n))
		h := nats.Header{}
		h.Set(hdrWire, strconv.Itoa(WireVersion))
		h.Set(hdrReply, e.n.results+"."+e.id)
		h.Set(hdrTask, strconv.FormatUint(t.id, 10))
		h.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s.%d.0", e.id, t.id))
		msgs = append(msgs, &nats.Msg{Subject: subj, Data: append(body, args...), Header: h})
	}
	e.mu.Lock()
	for _, t := range tasks {
		e.tasks[t.id], cj.tasks[t.id] = t, t
		e.st.submit(t.left)
	}
	if len(cj.tasks) == 0 && e.jobs[job] == cj {
		delete(e.jobs, job)
	}
	e.mu.Unlock()
	for k, i := range bad {
		job.Deliver(i, nil, fmt.Errorf("encode argument of %s: %w", job.Func(), badErr[k]))
	}
	e.publish(msgs, tasks)
	e.st.changed()
	return nil
}

// publish sends the chunks, all at once, then retries the ones the server
// did not take (it may be restarting) for up to publishTimeout; the items
// of a chunk that never goes out fail.
func (e *Executor) publish(msgs []*nats.Msg, tasks []*ctask) {
	futs := make([]jetstream.PubAckFuture, len(msgs))
	for k, m := range msgs {
		futs[k], _ = e.js.PublishMsgAsync(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	for k, f := range futs {
		var err error
		if f == nil {
			err = nats.ErrTimeout
		} else {
			select {
			case <-f.Ok():
				continue
			case err = <-f.Err():
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if transient(err) {
			err = retry(ctx, func() error { _, err := e.js.PublishMsg(ctx, msgs[k]); return err })
		}
		if err != nil {
			e.mu.Lock()
			var f func()
			if e.tasks[tasks[k].id] == tasks[k] {
				f = e.dropTask(tasks[k], fmt.Errorf("publish chunk of %s: %w", tasks[k].job.job.Func(), err))
			}
			e.mu.Unlock()
			if f != nil {
				f()
			}
		}
	}
}

// codecName names a codec on the wire (informational: both ends use the
// codec the function was registered with).
func codecName(c spawn.Codec) string {
	switch c {
	case spawn.Gob:
		return "gob"
	case spawn.JSON:
		return "json"
	}
	return reflect.TypeOf(c).String()
}

// onResults takes a result message: each item not yet delivered is
// delivered once; the rest (redeliveries, a cancelled job's) is dropped.
func (e *Executor) onResults(msg jetstream.Msg) {
	defer msg.Ack()
	h := msg.Headers()
	if kind := h.Get(hdrReject); kind != "" {
		e.onReject(h, kind)
		return
	}
	rs, err := parseResults(msg.Data())
	if err != nil {
		e.st.malformed.Add(1)
		return
	}
	e.mu.Lock()
	t := e.tasks[rs.Task]
	if t == nil {
		e.mu.Unlock()
		return
	}
	items := rs.Items[:0]
	for _, it := range rs.Items {
		k := it.Index - t.lo
		if k < 0 || k >= len(t.got) || t.got[k] {
			continue
		}
		t.got[k] = true
		t.left--
		items = append(items, it)
	}
	var failed int
	for _, it := range items {
		if it.Status != statusOK {
			failed++
		}
	}
	e.st.settle(t, len(items)-failed, failed, 0, 0)
	if t.left == 0 {
		e.dropTask(t, nil)
	}
	job, last := t.job.job, t.node
	e.mu.Unlock()
	for _, it := range items {
		if it.Status == statusOK {
			job.Deliver(it.Index, it.Data, nil)
		} else {
			job.Deliver(it.Index, nil, nodeError(rs.Node, last, job.Func(), it.Data))
		}
	}
	e.st.changed()
}

// onReject fails every undelivered item of a task a node refused as a
// whole (another wire version, a malformed chunk).
func (e *Executor) onReject(h nats.Header, kind string) {
	id, err := strconv.ParseUint(h.Get(hdrTask), 10, 64)
	if err != nil {
		return
	}
	e.mu.Lock()
	t := e.tasks[id]
	var f func()
	if t != nil {
		fn := t.job.job.Func()
		f = e.dropTask(t, &NodeError{Node: h.Get(hdrNode), Func: fn, Err: fmt.Errorf("%s: %w", h.Get(hdrText), kinds[kind])})
	}
	e.mu.Unlock()
	if f != nil {
		f()
	}
	e.st.changed()
}

// onStatus takes a node's notice that it started a task.
func (e *Executor) onStatus(m *nats.Msg) {
	r := reader{b: m.Data}
	id := r.uvarint("task", 1<<63)
	attempt := r.uvarint("attempt", maxAttempt)
	items := r.uvarint("items", maxItems)
	node := string(r.bytes("node", maxName))
	if r.err != nil {
		return
	}
	e.mu.Lock()
	t := e.tasks[id]
	if t != nil {
		t.node = node
		e.st.start(t, int(attempt), int(items))
	}
	e.mu.Unlock()
	if t != nil {
		t.job.job.MarkRunning()
		e.st.changed()
	}
}
