// Package shmipcbench measures cloudwego/shmipc-go, the production Go
// shared-memory IPC library, against forkless in one harness: the same
// process layout, the same message sizes, the same clock, in the same go
// test run. It lives in the report's module (bench/report), so that the
// library's go.mod never requires shmipc-go.
//
// BenchmarkShmipcRoundTrip sends a 64-byte message to an echoing child
// process and waits for the echo, b.N times, and reports the round trip's
// p50, p99 and p999 (p50-ns, p99-ns, p999-ns) and the mean (ns/op).
// impl=forkless is a duplex queue.Pipe; impl=shmipc a shmipc-go stream
// (this process the client, the child the server).
//
// BenchmarkShmipcStream sends b.N messages of 64 B, 4 KiB or 1 MiB from this
// process to a consuming child, which says when it has them all, and
// reports msgs/s (and MB/s). impl=forkless is a queue.Queue (8 MiB of ring
// for 1 MiB messages, 1 MiB otherwise, as a user would size it);
// impl=shmipc a shmipc-go stream, one Flush per message, with its buffer
// slices sized for the message as shmipc-go's own benchmarks do.
//
// Processes: the children are this test binary, re-executed (forkless's
// through spawn; shmipc-go's server with SHMIPC_BENCH_ROLE set, reached
// over a Unix socket in a temporary directory, its shared memory a memfd so
// that nothing is left in /dev/shm). Child start-up and session set-up are
// never timed.
//
// Run it from bench/report:
//
//	go test -run '^$' -bench . -count 6 ./shmipcbench
package shmipcbench
