package cpu

import "testing"

// Issue 13: a cgroup v1 mount whose source is empty ("- cgroup  rw,cpu":
// two spaces) shifted the fields of a whitespace split, and the parser
// indexed past the line's end. The line is parsed by its structure now.
func TestMountinfoEmptySource(t *testing.T) {
	mi := "31 25 0:27 / /sys/fs/cgroup/cpu rw,nosuid shared:9 - cgroup  rw,cpu,cpuacct\n"
	fs := fakeFS(map[string]string{
		"/sys/fs/cgroup/cpu/a/cpu.cfs_quota_us":  "150000",
		"/sys/fs/cgroup/cpu/a/cpu.cfs_period_us": "100000",
	})
	q, ok := quotaFrom([]byte("4:cpu,cpuacct:/a\n"), []byte(mi), fs)
	if !ok || q != 1.5 {
		t.Fatalf("quota = %v, %v; want 1.5", q, ok)
	}
}

func TestMountinfoMalformedLines(t *testing.T) {
	for _, line := range []string{
		"0 0 0 0 0 - cgroup 0", "- - -", "1 2 3 4 5 6 -", "1 2 3 4 5 6 - cgroup", "1 2 3 4 5 6 - cgroup x",
		"", " - ", "1 2 3 4 5 6 - cgroup2 x",
	} {
		if v2, v1, ok2, ok1 := cgroupMounts([]byte(line)); ok2 || ok1 {
			t.Errorf("%q: took a mount from a malformed line: v2 %v %v, v1 %v %v", line, v2, ok2, v1, ok1)
		}
	}
}
