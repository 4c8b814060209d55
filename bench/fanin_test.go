//go:build linux

package bench

import (
	"fmt"
	"strconv"
	"testing"
)

// fanInProducers is the fan-in of BenchmarkStreamFanIn: 4 producer
// processes, one consumer.
const fanInProducers = 4

// BenchmarkStreamFanIn moves b.N 64-byte messages from 4 producer processes
// to 1 consumer on one forkless queue.Queue (the consumer in this process,
// as in BenchmarkStream), and Python's multiprocessing.Queue doing the same
// (bench/python/stream_fanin.py, one script run per iteration, its own
// clock). It reports msgs/s and ns/msg. Names:
// StreamFanIn/impl=forkless|mp-queue/size=64B/producers=4.
func BenchmarkStreamFanIn(b *testing.B) {
	const size = 64
	name := func(impl string) string {
		return fmt.Sprintf("impl=%s/size=%s/producers=%d", impl, sizeName(size), fanInProducers)
	}
	b.Run(name("forkless"), func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		reportRate(b, streamForklessPC(b, size, fanInProducers, 1))
	})
	b.Run(name("mp-queue"), func(b *testing.B) {
		var rate, per float64
		for i := 0; i < b.N; i++ {
			f := python(b, "stream_fanin.py", strconv.Itoa(size), strconv.Itoa(fanInProducers), "1", strconv.Itoa(pythonCount(size)))
			rate += f["msgs_per_sec"]
			per += f["ns_per_msg"]
		}
		b.ReportMetric(rate/float64(b.N), "msgs/s")
		b.ReportMetric(per/float64(b.N), "ns/msg")
	})
}

// BenchmarkStreamShapes moves b.N 64-byte messages from P producer
// processes to C consumer goroutines of this process on one queue.Queue,
// for the shapes the report's rows leave out (docs/bench/queue.md: the
// consumers' gate). Names: StreamShapes/producers=P/consumers=C.
func BenchmarkStreamShapes(b *testing.B) {
	const size = 64
	for _, pc := range [][2]int{{1, 1}, {1, 2}, {2, 1}, {2, 2}, {4, 1}} {
		b.Run(fmt.Sprintf("producers=%d/consumers=%d", pc[0], pc[1]), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			reportRate(b, streamForklessPC(b, size, pc[0], pc[1]))
		})
	}
}
