//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// python runs bench/python/script with args and returns the figures it
// printed, one "name value" pair a line. It skips the benchmark when python3
// is absent.
func python(b *testing.B, script string, args ...string) map[string]float64 {
	b.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found: the Python baseline needs it")
	}
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "python", script)
	var stderr bytes.Buffer
	cmd := exec.Command(py, append([]string{path}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("python3 %s %s: %v\n%s", script, strings.Join(args, " "), err, stderr.Bytes())
	}
	figs := make(map[string]float64)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			figs[f[0]] = v
		}
	}
	if len(figs) == 0 {
		b.Fatalf("python3 %s printed no figures: %q", script, out)
	}
	return figs
}

// pythonCount is how many messages the Python rival moves per run: enough
// for a steady rate, few enough that one run takes a fraction of a second
// at Python's speed.
func pythonCount(size int) int {
	switch {
	case size >= 1<<20:
		return 300
	case size >= 4<<10:
		return 10000
	}
	return 20000
}

// BenchmarkPythonStream runs the one-way workload of BenchmarkStream on
// Python's multiprocessing.Queue (bench/python/suite_stream.py). Each
// iteration is one run of the script; the script times itself from the
// moment its already-started producers are released, and the benchmark
// reports the mean of its msgs/s and ns/msg. Names:
// PythonStream/impl=mp-queue/size=.../pairs=1|2.
func BenchmarkPythonStream(b *testing.B) {
	for _, size := range sizes {
		for _, pairs := range []int{1, 2} {
			name := fmt.Sprintf("impl=mp-queue/size=%s/pairs=%d", sizeName(size), pairs)
			b.Run(name, func(b *testing.B) {
				var rate, per float64
				for i := 0; i < b.N; i++ {
					f := python(b, "suite_stream.py", strconv.Itoa(size), strconv.Itoa(pairs), strconv.Itoa(pythonCount(size)))
					rate += f["msgs_per_sec"]
					per += f["ns_per_msg"]
				}
				b.ReportMetric(rate/float64(b.N), "msgs/s")
				b.ReportMetric(per/float64(b.N), "ns/msg")
				b.ReportMetric(rate/float64(b.N)*float64(size)/1e6, "MB/s")
			})
		}
	}
}
