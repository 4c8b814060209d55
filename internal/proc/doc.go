// Package proc answers questions about other processes that the shared-memory
// layers need: is the process that owns this lock still the one that took it?
//
// A pid alone cannot answer that, because the kernel reuses pids. A process is
// therefore named by its pid and its start time (field 22 of /proc/PID/stat,
// in clock ticks since boot), which together never repeat while the machine
// runs.
package proc
