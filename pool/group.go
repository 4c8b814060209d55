package pool

import "time"

// Groups. A Map with one item per task (Chunk(1), Imap's default) makes a
// task, a descriptor and a result descriptor per item, and a one-item
// task's cost is almost all descriptor: its checksum on both sides, its
// slot copied in and out of two rings, its result placed and parsed (a
// two-item task costs about what a one-item task does, issue 14). So
// one-item tasks that go to the same worker in the same pump, consecutive
// items of one job, may share one descriptor (flagGroup) when their
// arguments fit inline together (eight 8-byte ints in a 128-byte
// descriptor, and their results in the result's). Each stays a task of
// its own: its own id in the worker's in-flight FIFO, its own
// control-block identity while it runs (so a death fails or reruns
// exactly its item, exit.go), its own run time and latency; only the
// descriptors are shared, as results already share ring pushes.
// Scheduling is unchanged: tasks handed to a worker queue behind each
// other in its FIFO whether or not they share a descriptor.

// groupMax is the most tasks one descriptor carries.
const groupMax = 8

// groupSize returns how many one-item tasks of queue entry t may go to w
// in one descriptor: 1 when t is not cut one item per task, when w must
// first learn the function's name (flagName travels in the payload), or
// when the pool counts tasks per worker (MaxTasks: the worker counts
// descriptors), or when the job's arguments were found too large to
// share a descriptor (sendGroup). Called with p.mu held.
func (p *Pool) groupSize(w *worker, t *task, depth int) int {
	if t.chunk != 1 || p.cfg.maxTasks > 0 || t.job.ungrouped || !w.known[t.job.fid] {
		return 1
	}
	room := depth - (len(w.inflight) - w.ihead)
	return min(groupMax, t.hi-t.lo, room)
}

// sendGroup hands items [t.lo, t.lo+k) of queue entry t to w as k one-item
// tasks in one descriptor, fewer when their arguments do not fit inline
// (at least two), and reports whether it did; otherwise nothing changed
// and the caller sends t's next task alone. Called with p.mu held.
func (p *Pool) sendGroup(w *worker, t *task, k int, now time.Duration, moved *int64) bool {
	j := t.job
	var d taskDesc
	buf, err := p.encodeItems(w, j, t.lo, t.lo+k)
	if err != nil {
		return false // the lone send reports it
	}
	k, n := inlinePrefix(buf, k, len(d.Inline))
	if k < 2 {
		// Arguments this large go alone: the lone send encodes the item
		// again, so later tasks of the job skip this trial.
		j.ungrouped = true
		return false
	}
	buf = buf[:n]
	d = taskDesc{ID: p.nextTask + 1, Job: j.id, Fid: j.fid, Flags: flagGroup, Count: uint32(k), Len: uint32(len(buf))}
	copy(d.Inline[:], buf)
	d.Sum = taskSum(d, nil)
	lo, attempts := t.lo, t.attempts
	if t.hi-t.lo == k {
		p.popQueue()
	} else {
		p.queue[p.qhead].lo += k
	}
	for i := range k {
		m := p.newTask(j, lo+i, lo+i+1, 1, attempts)
		p.nextTask++
		m.id, m.sent = p.nextTask, now
		if i == 0 {
			m.group = k
		}
		w.inflight = append(w.inflight, m)
	}
	w.outbox = append(w.outbox, d)
	p.groups++
	j.MarkRunning()
	w.sent += k
	*moved += int64(k)
	return true
}

// inlinePrefix returns how many of the k length-prefixed items at the start
// of buf fit in size bytes together, and their length. An item of 128
// bytes or more (a widened length) never fits a descriptor.
func inlinePrefix(buf []byte, k, size int) (items, n int) {
	for items < k && n < len(buf) && buf[n] < 0x80 {
		end := n + 1 + int(buf[n])
		if end > size || end > len(buf) {
			break
		}
		items, n = items+1, end
	}
	return items, n
}
