package spin

import "golang.org/x/sys/unix"

// yieldCPU gives this thread's CPU to another runnable thread on it, if
// there is one (sched_yield). A raw system call: it takes well under a
// microsecond and never blocks, so the Go scheduler need not know.
func yieldCPU() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// osYield is yieldCPU; tests count the calls.
var osYield = yieldCPU
