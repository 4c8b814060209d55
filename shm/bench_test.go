package shm_test

import (
	"fmt"
	"testing"

	"github.com/forkless-go/forkless/shm"
)

// BenchmarkArray compares filling and summing a shared Array through its
// Slice with the same loops over a plain Go slice.
func BenchmarkArray(b *testing.B) {
	const n = 1 << 20 // 8 MiB of uint64: past the caches, like real data
	r := newRegion(b, n*8)
	arr, err := shm.NewArray[uint64](r, n)
	if err != nil {
		b.Fatal(err)
	}
	impls := []struct {
		name string
		s    []uint64
	}{
		{"slice", make([]uint64, n)},
		{"shm", arr.Slice()},
	}
	for _, op := range []string{"fill", "sum"} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("op=%s/impl=%s", op, impl.name), func(b *testing.B) {
				s := impl.s
				b.SetBytes(n * 8)
				b.ReportAllocs()
				var sink uint64
				for b.Loop() {
					if op == "fill" {
						fill(s)
					} else {
						sink += sum(s)
					}
				}
				_ = sink
			})
		}
	}
}

//go:noinline
func fill(s []uint64) {
	for i := range s {
		s[i] = uint64(i)
	}
}

//go:noinline
func sum(s []uint64) uint64 {
	var t uint64
	for _, v := range s {
		t += v
	}
	return t
}

// BenchmarkRegion measures a region's whole life: create (memfd or
// /dev/shm file), size, map, write the header, unmap and close.
func BenchmarkRegion(b *testing.B) {
	for _, size := range []int64{4 << 10, 1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("kind=anonymous/size=%s", human(size)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := shm.New(size)
				if err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
		b.Run(fmt.Sprintf("kind=named/size=%s", human(size)), func(b *testing.B) {
			name := uniqueName(b)
			b.ReportAllocs()
			for b.Loop() {
				r, err := shm.Create(name, size)
				if err != nil {
					b.Fatal(err)
				}
				r.Close() // unlinks: the creator owns the name
			}
		})
	}
}

// BenchmarkOpen measures attaching an existing named region: open, check
// the header, map.
func BenchmarkOpen(b *testing.B) {
	name := uniqueName(b)
	r, err := shm.Create(name, 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for b.Loop() {
		o, err := shm.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		o.Close()
	}
}

// BenchmarkAlloc measures the lock-free bump allocator. A full region is
// replaced, off the clock.
func BenchmarkAlloc(b *testing.B) {
	r, err := shm.New(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Alloc(shm.Layout{Kind: shm.KindBytes, Size: 64}); err != nil {
			b.StopTimer()
			r.Close()
			if r, err = shm.New(64 << 20); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	r.Close()
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
