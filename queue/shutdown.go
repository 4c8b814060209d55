package queue

import "errors"

// ErrShutDown is what Put and Get report after Shutdown: Python 3.13's
// queue.ShutDown. A queue shut down is a closed queue, so it is ErrClosed
// itself (registered with the other sentinels): errors.Is(err,
// ErrShutDown) holds after Close too.
var ErrShutDown = ErrClosed

// Shutdown shuts the queue down for every process, as Python 3.13's
// Queue.shutdown(immediate) does: puts fail with ErrShutDown from now on
// and blocked ones are woken. With immediate false, gets drain what is
// queued and then fail with ErrShutDown (Close does the same). With
// immediate true the messages queued now are dropped, so gets fail at once.
// Shutting down twice, or after Close, is harmless: it returns nil (and an
// immediate one still drops what is queued). An immediate shutdown drops
// the messages ready when it runs: one whose Put was still in progress
// may be left for a Get.
func (q *Queue) Shutdown(immediate bool) error {
	return q.q.shutdown(immediate, nil)
}

// Shutdown is Queue.Shutdown for a typed queue.
func (t *Of[T]) Shutdown(immediate bool) error {
	return t.q.shutdown(immediate, nil)
}

// Shutdown is Queue.Shutdown; each message an immediate shutdown drops
// counts as a finished task, so a Join waiting only on queued messages
// returns (Python's does the same). Tasks already taken by a consumer stay
// unfinished until their TaskDone.
func (j *Joinable) Shutdown(immediate bool) error {
	return j.q.shutdown(immediate, j.dropped)
}

// dropped counts one dropped message as done, never below zero.
func (j *Joinable) dropped() {
	if err := j.TaskDone(); err != nil && !errors.Is(err, ErrTaskDone) {
		return // a corrupt count: TaskDone said it, Join reports nothing new
	}
}

// shutdown closes q (a second close is not an error here) and, when
// immediate, takes and drops every message ready now, calling drop after
// each. Bounded by what is in the ring: each take frees one record.
func (q *records) shutdown(immediate bool, drop func()) error {
	if err := q.close(); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	if !immediate {
		return nil
	}
	for range q.cap/recAlign + 1 {
		m, err := q.tryTakeMessage()
		if errors.Is(err, ErrEmpty) || errors.Is(err, ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := m.Release(); err != nil {
			return err
		}
		if drop != nil {
			drop()
		}
	}
	return nil
}
