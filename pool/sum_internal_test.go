package pool

import "testing"

var sumSink uint32

// BenchmarkDescSum is the checksum of a descriptor with its payload
// inline, paid twice per task on each side.
func BenchmarkDescSum(b *testing.B) {
	b.Run("desc=task", func(b *testing.B) {
		d := taskDesc{ID: 7, Job: 3, Count: 1, Len: 9}
		b.SetBytes(int64(len(d.Inline)) + 44)
		for b.Loop() {
			d.ID++
			sumSink += taskSum(d, nil)
		}
	})
	b.Run("desc=result", func(b *testing.B) {
		d := resultDesc{ID: 7, Len: 10}
		b.SetBytes(64)
		for b.Loop() {
			d.ID++
			sumSink += resultSum(d, nil)
		}
	})
}
