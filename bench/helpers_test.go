//go:build linux

package bench

import "testing"

func TestShare(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000, 1001} {
		for k := 1; k <= 3; k++ {
			sum := 0
			for i := range k {
				sum += share(n, k, i)
			}
			if sum != n {
				t.Errorf("shares of %d among %d sum to %d", n, k, sum)
			}
		}
	}
}

func TestSizeName(t *testing.T) {
	for n, want := range map[int]string{8: "8B", 64: "64B", 4096: "4KiB", 1 << 20: "1MiB", 1000: "1000B"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}
