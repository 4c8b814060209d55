// Package cpu counts the CPUs this process may really use: the CPUs of its
// affinity mask (sched_getaffinity), further limited by a cgroup CPU quota
// (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us) anywhere
// on the path from the process's cgroup up to the hierarchy's root.
//
// A quota of 1.5 CPUs counts as 2: that many processes can each get useful
// time, which is what a pool sizing itself wants. The count is never less
// than 1.
//
// The parsers are separate from the file reads so that tests can feed them
// any machine's files.
package cpu
