package pool

import "time"

// watchdog kills workers whose item runs over the time limit
// (TaskTimeout). It samples every worker's seq word: a worker whose seq
// stayed at the same odd value for longer than the limit is killed, and
// its exit (onExit) reports the item with ErrTimeout, since the odd seq it
// was killed at is recorded in timeoutSeq. Sampling every limit/8 enforces
// the limit within about limit/8.
func (p *Pool) watchdog() {
	limit := p.cfg.timeout
	tick := time.NewTicker(max(limit/8, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			p.mu.Lock()
			for _, w := range p.workers {
				if w == nil || w.gone {
					continue
				}
				s := w.ctl.seq.Load()
				switch {
				case s%2 == 0 || s != w.lastSeq:
					w.lastSeq, w.lastSeqAt = s, now
				case now.Sub(w.lastSeqAt) > limit && w.timeoutSeq != s:
					w.timeoutSeq = s
					w.proc.Kill()
				}
			}
			p.mu.Unlock()
		}
	}
}
