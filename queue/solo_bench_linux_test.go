package queue_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
)

// BenchmarkQueueSolo: Put then Get of a 64-byte message in one goroutine:
// the path's own cost (its atomic operations, copies and checks) without
// a second process. cpu-ns/op is this process's CPU time per message pair,
// which a loaded machine disturbs much less than ns/op.
func BenchmarkQueueSolo(b *testing.B) {
	ctx := context.Background()
	r, err := shm.New(8 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	q, err := queue.New(r, queue.Config{Bytes: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	buf := make([]byte, 0, 64)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0) //nolint:errcheck // figures only
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := q.Put(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if buf, err = q.AppendGet(ctx, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1) //nolint:errcheck // figures only
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()) - time.Duration(ru0.Utime.Nano()+ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
