package shared

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/internal/futex"
	"github.com/forkless-go/forkless/internal/proc"
)

// robustLock is the lock of one container: a 64-bit word in shared memory
// that names the process holding it, so that a waiter can tell when the
// holder died and take the lock over.
//
// The word (offset 0 of every container header):
//
//	bits  0-21  pid of the holder (Linux pids are below 2^22), 0: unlocked
//	bit  22     waiters: some process may sleep on the word, Unlock must wake
//	bits 23-63  the holder's start time (proc.ID.Start), so a reused pid is
//	            not mistaken for the holder
//
// Written by Lock (compare-and-swap from 0, or from a dead holder's value),
// by waiters (compare-and-swap setting bit 22) and by Unlock (swap to 0);
// read by everyone who waits. The futex sleeps on the low 32 bits of the word
// (little-endian: the low half is at the word's own address), which hold the
// pid and the waiters bit: every change that matters to a sleeper changes
// them.
//
// Lost-wakeup argument, in steps:
//  1. A waiter loads the word w (locked), and sets the waiters bit with a
//     compare-and-swap from w to w|bit; if the word changed meanwhile the
//     compare-and-swap fails and it starts over.
//  2. It then sleeps with futex.Wait(low half, low half of w|bit). The
//     kernel checks, atomically with queueing the waiter, that the low half
//     still holds that value.
//  3. Unlock swaps the word to 0 and, if the old value had the bit, wakes one
//     sleeper. If the swap came after step 1, it saw the bit and wakes; if the
//     waiter was not asleep yet, step 2 finds 0 and returns at once. If the
//     swap came before step 1, step 1's compare-and-swap failed.
//  4. A woken waiter takes the lock with the bit set (it cannot know whether
//     others still sleep), so its own Unlock wakes the next one.
//
// Dead holders: a sleeper wakes every pollInterval, and if the holder named in
// the word is no longer alive (proc.Alive, which treats zombies and reused
// pids as dead) it takes the lock over with one compare-and-swap from that
// exact word, so of several waiters exactly one wins. Lock then reports
// recovered, and the container repairs what the dead holder may have left
// half done before going on.
type robustLock struct {
	w   *atomic.Uint64
	low *atomic.Uint32
}

const (
	lockPidBits   = 22
	lockPidMask   = 1<<lockPidBits - 1
	lockWaiters   = 1 << lockPidBits
	lockStartShft = lockPidBits + 1
	pollInterval  = 20 * time.Millisecond
)

func newRobustLock(w *atomic.Uint64) robustLock {
	return robustLock{w: w, low: (*atomic.Uint32)(unsafe.Pointer(w))}
}

var selfWord = func() uint64 {
	id := proc.Self()
	return uint64(id.Pid)&lockPidMask | id.Start<<lockStartShft
}()

func holderOf(w uint64) proc.ID {
	return proc.ID{Pid: int32(w & lockPidMask), Start: w >> lockStartShft}
}

// lock acquires the lock, waiting until deadline (zero: forever). recovered
// reports that the previous holder died holding it.
func (l robustLock) lock(deadline time.Time) (recovered bool, err error) {
	if l.w.CompareAndSwap(0, selfWord) {
		return false, nil
	}
	// Critical sections are a few hundred nanoseconds: spin a little
	// before sleeping, yielding so that a holder on this CPU can finish.
	for range 64 {
		runtime.Gosched()
		if l.w.Load() == 0 && l.w.CompareAndSwap(0, selfWord) {
			return false, nil
		}
	}
	lastCheck := time.Now()
	for {
		cur := l.w.Load()
		if cur == 0 {
			// Taken with the waiters bit: see step 4 above.
			if l.w.CompareAndSwap(0, selfWord|lockWaiters) {
				return false, nil
			}
			continue
		}
		if cur&lockWaiters == 0 {
			if !l.w.CompareAndSwap(cur, cur|lockWaiters) {
				continue
			}
			cur |= lockWaiters
		}
		wait := pollInterval
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false, ErrTimeout
			}
			wait = min(wait, left)
		}
		if err := futex.Wait(l.low, uint32(cur), wait); err != nil && !errors.Is(err, futex.ErrTimeout) {
			// No futex on this system: poll.
			time.Sleep(time.Millisecond)
		}
		if time.Since(lastCheck) >= pollInterval {
			lastCheck = time.Now()
			if l.w.Load() == cur && !proc.Alive(holderOf(cur)) {
				if l.w.CompareAndSwap(cur, selfWord|lockWaiters) {
					return true, nil
				}
			}
		}
	}
}

// unlock releases the lock and wakes one sleeper if there may be one.
func (l robustLock) unlock() {
	old := l.w.Swap(0)
	if old&^lockWaiters != selfWord {
		panic(fmt.Sprintf("forkless/shared: unlock of a lock held by %+v, not by this process", holderOf(old)))
	}
	if old&lockWaiters != 0 {
		futex.Wake(l.low, 1)
	}
}
