package futex

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrTimeout is returned by Wait when the timeout elapsed before a wake-up.
var ErrTimeout = errors.New("futex wait timed out")

var syscalls atomic.Uint64

// Syscalls reports how many futex system calls this process has made.
func Syscalls() uint64 { return syscalls.Load() }

// wakeRetry is how long WaitContext's cancellation hook pauses between
// wake-ups while its waiter has not yet left Wait.
const wakeRetry = 20 * time.Microsecond

// WaitContext is Wait that also returns, with ctx's error, soon after ctx is
// done: within microseconds, not at the end of timeout.
//
// Why a wake-up hook rather than short timeouts: a sleeper that polled its
// context with 1 ms timeouts would make a thousand system calls a second for
// as long as it waits, and still answer a cancellation up to 1 ms late. A
// context.AfterFunc hook costs nothing until the context ends, and then wakes
// the word at once.
//
// The hook wakes every sleeper on addr, in every process; the others find
// their condition unchanged and sleep again (futex wake-ups may always be
// spurious). One wake-up is not enough on its own: the context may end after
// the waiter checked it but before the kernel queued it on addr, and a wake
// in that gap finds nobody. So the hook repeats the wake every wakeRetry
// until the waiter reports that it has left Wait.
func WaitContext(ctx context.Context, addr *atomic.Uint32, val uint32, timeout time.Duration) error {
	done := ctx.Done()
	if done == nil {
		return Wait(addr, val, timeout)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var left atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		for !left.Load() {
			Wake(addr, -1)
			time.Sleep(wakeRetry)
		}
	})
	err := Wait(addr, val, timeout)
	left.Store(true)
	stop()
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}
