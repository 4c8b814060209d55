package cpu

import (
	"os"
	"runtime"
	"testing"
)

func TestCountSane(t *testing.T) {
	n := Count()
	if n < 1 || n > runtime.NumCPU() {
		t.Fatalf("Count() = %d, NumCPU = %d", n, runtime.NumCPU())
	}
	if a := Affinity(); a != runtime.NumCPU() {
		// runtime.NumCPU reads the affinity mask at start-up, too.
		t.Fatalf("Affinity() = %d, runtime.NumCPU() = %d", a, runtime.NumCPU())
	}
}

func fakeFS(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
}

const mountinfoV2 = `22 1 0:21 / /proc rw,nosuid - proc proc rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`

const mountinfoV1 = `30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
`

func TestQuotaV2TakesSmallestAncestor(t *testing.T) {
	fs := fakeFS(map[string]string{
		"/sys/fs/cgroup/cpu.max":                  "max 100000\n",
		"/sys/fs/cgroup/kubepods/cpu.max":         "150000 100000\n",
		"/sys/fs/cgroup/kubepods/pod1/cpu.max":    "max 100000\n",
		"/sys/fs/cgroup/kubepods/pod1/c1/cpu.max": "300000 100000\n",
	})
	q, ok := quotaFrom([]byte("0::/kubepods/pod1/c1\n"), []byte(mountinfoV2), fs)
	if !ok || q != 1.5 {
		t.Fatalf("quota = %v, %v; want 1.5", q, ok)
	}
}

func TestQuotaV2None(t *testing.T) {
	fs := fakeFS(map[string]string{"/sys/fs/cgroup/a/cpu.max": "max 100000\n"})
	if q, ok := quotaFrom([]byte("0::/a\n"), []byte(mountinfoV2), fs); ok {
		t.Fatalf("quota = %v, want none", q)
	}
}

func TestQuotaV1(t *testing.T) {
	fs := fakeFS(map[string]string{
		"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us":  "50000\n",
		"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
		"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":             "-1\n",
		"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us":            "100000\n",
	})
	cg := "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n"
	q, ok := quotaFrom([]byte(cg), []byte(mountinfoV1), fs)
	if !ok || q != 0.5 {
		t.Fatalf("quota = %v, %v; want 0.5", q, ok)
	}
}

func TestNamespacedMountRoot(t *testing.T) {
	// Inside a container the mount's root is the container's own cgroup.
	mi := "31 25 0:27 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	fs := fakeFS(map[string]string{
		"/sys/fs/cgroup/cpu/cpu.cfs_quota_us":  "200000",
		"/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
	})
	q, ok := quotaFrom([]byte("4:cpu:/docker/abc\n"), []byte(mi), fs)
	if !ok || q != 2 {
		t.Fatalf("quota = %v, %v; want 2", q, ok)
	}
}

func TestParsers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{{"max", 0, false}, {"", 0, false}, {"100000 100000", 1, true}, {"250000 100000\n", 2.5, true}, {"x y", 0, false}, {"-5 100", 0, false}} {
		if got, ok := parseCPUMax([]byte(c.in)); got != c.want || ok != c.ok {
			t.Errorf("parseCPUMax(%q) = %v, %v", c.in, got, ok)
		}
	}
	if got := unescape(`/a\040b`); got != "/a b" {
		t.Errorf("unescape = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("0::/a/b\n3:cpu:/x\n"), []byte(mountinfoV2+mountinfoV1))
	f.Add([]byte(":::\n"), []byte("- - -\n1 2 3 4 5 - cgroup2"))
	f.Fuzz(func(t *testing.T, cg, mi []byte) {
		q, ok := quotaFrom(cg, mi, fakeFS(map[string]string{"/sys/fs/cgroup/cpu.max": "100 100"}))
		if ok && q <= 0 {
			t.Fatalf("quota %v", q)
		}
	})
}
