package pool

import "time"

// Stalled workers. A task that scribbles its own worker's region can leave
// the two sides of a ring each believing the other's move is due: the
// parent pushed tasks the worker never sees, or the worker waits for room
// the parent never frees. Neither side can tell from the words alone, so
// the parent watches for the symptom: a ready worker that holds tasks, runs
// no item (its seq even) and returns no result for stallLimit is taken as
// broken and killed; its exit puts its tasks back (none of them was
// running) and a new worker starts. A healthy worker holding tasks runs one
// of them within microseconds, or within a scheduler slice under load, far
// below the limit.
const (
	stallLimit = 2 * time.Second
	stallTick  = 250 * time.Millisecond
)

// checkStalls kills the workers stalled for stallLimit at now. Called from
// progressLoop.
func (p *Pool) checkStalls(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.workers {
		if w == nil || w.gone || w.closing || w.ihead == len(w.inflight) || w.ctl.ready.Load() == 0 {
			if w != nil {
				w.stallAt = time.Time{}
			}
			continue
		}
		seq := w.ctl.seq.Load()
		switch {
		case seq%2 == 1 || seq != w.stallSeq || w.delivered != w.stallDelivered || w.stallAt.IsZero():
			w.stallSeq, w.stallDelivered, w.stallAt = seq, w.delivered, now
		case now.Sub(w.stallAt) >= stallLimit:
			p.dropWorker(w)
		}
	}
}
