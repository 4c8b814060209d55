package cluster_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// The example program runs with one command on a machine with nothing
// installed: its own server, two local nodes.
func TestExampleClusterMap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "cluster-map")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/cluster-map").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "-n", "3000").CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	for _, re := range []string{`(?m)^2 nodes: \[local-\d local-\d\]$`,
		`(?m)^mapped 3000 items in .*: longest chain below 3001 starts at 2919 \(216 steps\)$`,
		`(?m)^stats: done 3000, failed 0`} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}
