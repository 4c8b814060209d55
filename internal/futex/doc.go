// Package futex wraps the Linux futex system call for words that live in
// shared memory.
//
// The words are shared between processes, so the operations never use
// FUTEX_PRIVATE_FLAG: a private futex is keyed by the virtual address in one
// process, a shared one by the backing page, which is what lets two processes
// that map the same region at different addresses meet on the same word.
//
// The calls go through Syscall6, not RawSyscall, so the Go scheduler knows the
// thread is blocked and runs other goroutines meanwhile.
//
// Every call that reaches the kernel increments a counter, Syscalls, so tests
// can prove that an uncontended release makes no system call.
//
// A waiter whose peer may die sleeps in naps (Napper): timeouts that grow
// from MinNap to MaxNap, after each of which it looks for the dead peer.
package futex
