package pool

import "time"

// Cancelling (a Map's context, an Imap left early, Future.Cancel) goes in
// stages: (1) the job's tasks not yet handed out are dropped; (2) its id is
// written into every worker's cancel slots, so workers skip its queued
// items; (3) after CancelGrace, a worker still running one of its items
// gets SIGTERM (its function sees its context cancelled), and (4) after
// another CancelGrace, SIGKILL. The killed worker's other tasks go back to
// the queue, and a new worker starts. SIGTERM goes only to workers running
// an item of the cancelled job, so cancelling never stops an item of
// another job.

// CancelJob cancels job: the Executor method Map, Imap and Future.Cancel
// call. Cancelling twice does nothing more.
func (p *Pool) CancelJob(job *Job) {
	if job.cancelled.Swap(true) {
		return
	}
	p.mu.Lock()
	p.dropQueued(job) // (1)
	holding := p.announceCancel(job)
	fails := p.pump(nil)
	p.mu.Unlock()
	p.deliverFailures(fails)
	if len(holding) > 0 {
		go p.stopRunning(holding, job.id)
	}
}

// dropQueued removes j's tasks from the queue. Called with p.mu held.
func (p *Pool) dropQueued(j *Job) {
	kept := p.queue[:p.qhead]
	for _, t := range p.queue[p.qhead:] {
		if t.job == j {
			p.st.queued.Add(-int64(t.hi - t.lo))
			p.st.cancelled.Add(int64(t.hi - t.lo))
			continue
		}
		kept = append(kept, t)
	}
	clear(p.queue[len(kept):])
	p.queue = kept
}

// announceCancel writes j's id into a cancel slot of every worker (2), and
// returns the workers that hold tasks of j. Called with p.mu held.
func (p *Pool) announceCancel(j *Job) []*worker {
	slot := p.cancelN % ctlSlots
	p.cancelN++
	var holding []*worker
	for _, w := range p.workers {
		if w == nil || w.gone {
			continue
		}
		w.ctl.cancel[slot].Store(j.id)
		w.ctl.cancelGen.Add(1) // publishes the slot
		for _, t := range w.inflight[w.ihead:] {
			if t.job == j {
				holding = append(holding, w)
				break
			}
		}
	}
	return holding
}

// stopRunning sends SIGTERM (3), then SIGKILL (4), each after a grace, to
// the workers of holding still running an item of job id.
func (p *Pool) stopRunning(holding []*worker, id uint64) {
	grace := p.cfg.grace
	for stage := 0; stage < 2; stage++ {
		deadline := time.Now().Add(grace)
		for {
			busy := p.runningJob(holding, id)
			if len(busy) == 0 {
				return
			}
			if time.Now().After(deadline) {
				for _, w := range busy {
					if stage == 0 {
						w.proc.Terminate()
					} else {
						w.proc.Kill()
					}
				}
				break
			}
			time.Sleep(min(5*time.Millisecond, grace/4+time.Microsecond))
		}
	}
}

// runningJob returns the workers of ws still running an item of job id.
func (p *Pool) runningJob(ws []*worker, id uint64) []*worker {
	var out []*worker
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range ws {
		if w.gone {
			continue
		}
		if w.ctl.seq.Load()%2 == 1 && w.ctl.job.Load() == id {
			out = append(out, w)
		}
	}
	return out
}
