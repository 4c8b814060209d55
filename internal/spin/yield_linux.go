package spin

import "golang.org/x/sys/unix"

// osYield gives this thread's CPU to another runnable thread on it, if
// there is one (sched_yield). A raw system call: it takes well under a
// microsecond and never blocks, so the Go scheduler need not know. A
// variable, so that tests can count the calls.
var osYield = func() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
