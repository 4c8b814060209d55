package cpu

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"strings"
)

// Count returns the number of CPUs the process may use, honouring both the
// affinity mask and a cgroup quota. It reads /proc and /sys on each call
// (both can change while a process runs).
func Count() int {
	n := affinity()
	if q, ok := Quota(); ok {
		if c := int(math.Ceil(q)); c < n {
			n = c
		}
	}
	return max(n, 1)
}

// Affinity returns the number of CPUs in the affinity mask.
func Affinity() int { return max(affinity(), 1) }

// Quota returns the cgroup CPU quota in CPUs (quota / period, the smallest
// along the cgroup path), and false when there is none or it cannot be read.
func Quota() (float64, bool) { return quota() }

// cgroupPaths parses /proc/self/cgroup: the cgroup v2 path ("0::/path") and
// the v1 path of the hierarchy holding the cpu controller ("N:cpu,cpuacct:/path").
func cgroupPaths(b []byte) (v2, v1 string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "cpu" {
				v1 = parts[2]
			}
		}
	}
	return v2, v1
}

// mount is a cgroup file system mount from /proc/self/mountinfo.
type mount struct {
	root, point string
}

// cgroupMounts parses /proc/self/mountinfo for the cgroup2 mount and the v1
// mount carrying the cpu controller.
func cgroupMounts(b []byte) (v2, v1 mount, ok2, ok1 bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m, fstype, superOpts, ok := parseMountLine(sc.Text())
		if !ok {
			continue
		}
		switch fstype {
		case "cgroup2":
			if !ok2 {
				v2, ok2 = m, true
			}
		case "cgroup":
			if ok1 {
				continue
			}
			for _, o := range strings.Split(superOpts, ",") {
				if o == "cpu" {
					v1, ok1 = m, true
				}
			}
		}
	}
	return
}

// parseMountLine parses one mountinfo line by its documented structure
// (proc_pid_mountinfo(5)):
//
//	id parent major:minor root mountpoint options [optional...] - fstype source superoptions
//
// Fields are separated by one space and escape their own spaces (\040),
// so the line is split on single spaces, never on runs of them: a field may
// be empty (a mount with an empty source shows "cgroup  rw,cpu"), and
// collapsing the spaces would shift the fields after it. The separator is
// the first "-" field after the six fixed ones (optional fields are
// "tag:value"). A line without all of that is skipped.
func parseMountLine(line string) (m mount, fstype, superOpts string, ok bool) {
	f := strings.Split(line, " ")
	const fixed = 6
	sep := -1
	for i := fixed; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 {
		return m, "", "", false
	}
	tail := f[sep+1:] // fstype, source, superoptions
	if len(tail) < 3 {
		return m, "", "", false
	}
	return mount{root: unescape(f[3]), point: unescape(f[4])}, tail[0], tail[2], true
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// dirFor maps a cgroup path to its directory under the mount.
func dirFor(m mount, cgPath string) string {
	rel := cgPath
	if m.root != "/" {
		if r, ok := strings.CutPrefix(cgPath, m.root); ok {
			rel = r
		} else {
			// The mount's root is not an ancestor (a namespaced cgroup):
			// the mount point itself is our cgroup.
			rel = "/"
		}
	}
	base := strings.TrimSuffix(m.point, "/")
	if rel = strings.Trim(rel, "/"); rel == "" {
		return base
	}
	return base + "/" + rel
}

// parseCPUMax parses cgroup v2 cpu.max: "max 100000" (no quota) or
// "QUOTA PERIOD" in microseconds.
func parseCPUMax(b []byte) (float64, bool) {
	f := strings.Fields(string(b))
	if len(f) == 0 || f[0] == "max" {
		return 0, false
	}
	q, err := strconv.ParseFloat(f[0], 64)
	if err != nil || q <= 0 {
		return 0, false
	}
	period := 100000.0
	if len(f) > 1 {
		if p, err := strconv.ParseFloat(f[1], 64); err == nil && p > 0 {
			period = p
		}
	}
	return q / period, true
}

// parseV1 parses cgroup v1 cpu.cfs_quota_us (-1: no quota) and cpu.cfs_period_us.
func parseV1(quota, period []byte) (float64, bool) {
	q, err := strconv.ParseFloat(strings.TrimSpace(string(quota)), 64)
	if err != nil || q <= 0 {
		return 0, false
	}
	p, err := strconv.ParseFloat(strings.TrimSpace(string(period)), 64)
	if err != nil || p <= 0 {
		return 0, false
	}
	return q / p, true
}

// ancestors lists dir and its parents down to (and including) stop.
func ancestors(dir, stop string) []string {
	stop = strings.TrimSuffix(stop, "/")
	dirs := []string{dir}
	for dir != stop && strings.HasPrefix(dir, stop+"/") {
		i := strings.LastIndexByte(dir, '/')
		if i <= 0 {
			break
		}
		dir = dir[:i]
		dirs = append(dirs, dir)
	}
	return dirs
}
