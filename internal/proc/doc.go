// Package proc answers questions about other processes that the shared-memory
// layers need: is the process that owns this lock still the one that took it?
//
// A pid alone cannot answer that, because the kernel reuses pids. A process is
// therefore named by its pid and its start time (field 22 of /proc/PID/stat,
// in clock ticks since boot), which together never repeat while the machine
// runs.
//
// The start time a process records for itself must be the one every other
// process reads for it. Under qemu-user (the arm64 suite on an amd64 CI
// machine) a process's own /proc/self/stat and /proc/PID/stat are written
// by the emulator, with a later start time than the kernel's, so a process
// reads its own from /proc/PID/task/PID/stat, which is the kernel's
// everywhere. See docs/arm64.md.
package proc
