package cpu

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func affinity() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return runtime.NumCPU()
	}
	return set.Count()
}

func quota() (float64, bool) {
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0, false
	}
	return quotaFrom(cg, mi, os.ReadFile)
}

// quotaFrom finds the smallest quota on the cgroup path, reading the
// control files through read (a test passes a fake file system).
func quotaFrom(cgroup, mountinfo []byte, read func(string) ([]byte, error)) (float64, bool) {
	p2, p1 := cgroupPaths(cgroup)
	m2, m1, ok2, ok1 := cgroupMounts(mountinfo)
	best, found := 0.0, false
	take := func(q float64, ok bool) {
		if ok && (!found || q < best) {
			best, found = q, true
		}
	}
	if ok2 && p2 != "" {
		for _, d := range ancestors(dirFor(m2, p2), m2.point) {
			if b, err := read(d + "/cpu.max"); err == nil {
				take(parseCPUMax(b))
			}
		}
	}
	if ok1 && p1 != "" {
		for _, d := range ancestors(dirFor(m1, p1), m1.point) {
			q, err1 := read(d + "/cpu.cfs_quota_us")
			p, err2 := read(d + "/cpu.cfs_period_us")
			if err1 == nil && err2 == nil {
				take(parseV1(q, p))
			}
		}
	}
	return best, found
}
