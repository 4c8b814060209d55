package pool

import (
	"context"
	"fmt"
)

// signalChange wakes everyone waiting for the pool's state to move (Close).
// It costs nothing when nobody waits. No wake-up is lost:
//
//	C1 closeWaiters += 1          S1 change the state, under p.mu
//	C2 lock; if idle: done        S2 if closeWaiters == 0: return
//	C3 ch := p.changed; unlock    S3 lock; close(p.changed); replace it; unlock
//	C4 wait on ch
//
// If S2 reads 0, C1 comes after S2, so C2 (after C1) locks after S1 and
// sees the change. If S2 reads non-zero, S3 closes the channel C3 took
// (C3 before S3 in lock order), or C3 comes after S3 and C2 already saw
// the change under the same lock.
func (p *Pool) signalChange() {
	if p.closeWaiters.Load() == 0 {
		return
	}
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// idleLocked reports whether nothing is queued or in flight.
func (p *Pool) idleLocked() bool {
	if p.qhead < len(p.queue) {
		return false
	}
	for _, w := range p.workers {
		if w == nil {
			return false // a replacement is starting
		}
		if !w.gone && w.ihead < len(w.inflight) {
			return false
		}
	}
	return true
}

// Close stops the pool from taking new work, waits until every task
// submitted so far has finished, then lets the workers exit and waits for
// them: Python's close() then join(). If ctx ends first, Close terminates
// the pool (Terminate) and returns ctx's error. Closing twice is not an
// error. Closing a pool that broke (see Initializer) returns why it broke.
func (p *Pool) Close(ctx context.Context) error {
	p.closeWaiters.Add(1)
	defer p.closeWaiters.Add(-1)
	p.mu.Lock()
	if p.state == poolOpen {
		p.state = poolClosing
	}
	for p.state == poolClosing && !p.idleLocked() {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.Terminate(context.Background())
			return fmt.Errorf("close pool: %w", ctx.Err())
		}
		p.mu.Lock()
	}
	if p.state == poolClosing {
		p.state = poolClosed
		for _, w := range p.workers {
			if w != nil && !w.gone {
				w.closing = true
				w.tasks.Close() // the worker drains nothing and exits
			}
		}
		if p.stopped.CompareAndSwap(false, true) {
			close(p.stop)
		}
	}
	broken := p.brokenErr
	p.mu.Unlock()
	if err := p.waitWorkers(ctx); err != nil {
		p.Terminate(context.Background())
		return fmt.Errorf("close pool: %w", err)
	}
	p.removeTeardown()
	if broken != nil {
		return fmt.Errorf("close pool: %w", broken)
	}
	return nil
}

// Terminate stops the pool now, like Python's terminate(): queued and
// running items fail with ErrTerminated, workers get SIGTERM and, after the
// CancelGrace (or when ctx ends, if sooner), SIGKILL. It returns once every
// worker is reaped. Terminating twice, or after Close, is not an error.
func (p *Pool) Terminate(ctx context.Context) error {
	p.mu.Lock()
	var fails []failure
	if p.state != poolTerminated {
		if p.state != poolClosed && p.state != poolBroken {
			fails = p.failAllLocked(fmt.Errorf("pool: %w", ErrTerminated), nil)
		} else {
			p.failAllLocked(ErrTerminated, nil)
		}
		p.state = poolTerminated
	}
	p.mu.Unlock()
	p.removeTeardown()
	p.deliverFailures(fails)
	gctx, cancel := context.WithTimeout(ctx, p.cfg.grace)
	err := p.waitWorkers(gctx)
	cancel()
	if err != nil {
		p.mu.Lock()
		for _, w := range p.workers {
			if w != nil {
				w.proc.Kill()
			}
		}
		p.mu.Unlock()
		// SIGKILL cannot be refused: the reap follows promptly.
		p.waitWorkers(context.Background())
	}
	return nil
}

// removeTeardown removes the pool from what spawn.Shutdown tears down:
// once closed or terminated, it holds no worker that could outlive it.
func (p *Pool) removeTeardown() {
	p.mu.Lock()
	remove := p.unhook
	p.mu.Unlock()
	remove()
}

// waitWorkers waits until every collector and starter has finished.
func (p *Pool) waitWorkers(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.live.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
