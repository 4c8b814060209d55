// Package bench holds the side-by-side benchmarks that no single forkless
// package owns: the ways a Go program moves bytes between processes without
// forkless (os.Pipe, Unix sockets), the in-process yardstick (buffered Go
// channels between goroutines), and Python's multiprocessing running the
// same workloads, next to forkless's ring.Queue swept over the same
// message sizes in the same harness. The forkless side of every other
// comparison lives in the package that implements it (ring, sync, spawn,
// shared); the report command in bench/report runs them all in one go and
// writes docs/benchmarks.md.
//
// Run one workload the usual way, for example
//
//	go test -run '^$' -bench 'Stream/impl=pipe' -count 3 ./bench
//
// or regenerate the whole report from the repository root with
//
//	cd bench/report && go run .
//
// # Workloads
//
// BenchmarkStream moves b.N messages of a fixed size one way, 1 producer
// to 1 consumer (pairs=1) or 2 producers to 2 consumers on one queue,
// channel, pipe or socket (pairs=2). It reports msgs/s, ns/msg and, through
// b.SetBytes, MB/s. Sizes are 8 B, 64 B, 4 KiB and 1 MiB. impl=forkless is
// a ring.Queue in an anonymous region (1 MiB of ring for messages up to
// 4 KiB, 8 MiB for 1 MiB messages so that they travel inside the ring),
// with producers started by spawn and a go signal on a sync.Event.
//
// BenchmarkPingPong sends a 64-byte message to an echoing peer and waits
// for the echo, b.N times, and reports the round trip's p50, p99 and p999
// in ns as well as the mean (ns/op). impl=event and impl=futex carry no
// data: a pair of sync.Events, and a bare futex ping-pong on two shared
// words (no spin), the floor of a hand-off that sleeps.
//
// BenchmarkStreamFanIn is BenchmarkStream's 64-byte workload with 4
// producers and 1 consumer, on a forkless Queue and on Python's
// multiprocessing.Queue (bench/python/stream_fanin.py).
//
// BenchmarkPoolMapValues maps a function over 1M ints with automatic
// chunks on a pool of 2 workers, the ints distinct or one constant, against
// Python's Pool.map over the same items (bench/python/pool_map_values.py).
//
// BenchmarkPythonStream runs bench/python/suite_stream.py: the same
// one-way workload on multiprocessing.Queue, and reports the msgs/s the
// script measured.
//
// # Processes
//
// The pipe and socket rivals run between two real processes, like the
// forkless rings they are compared with: the test binary re-executes
// itself with BENCH_CHILD set (see TestMain), and the descriptors travel
// as ExtraFiles, the way a Go program without forkless would do it. Each
// producer says it is ready (a byte on a ready pipe; for forkless, Done on
// a shared sync.WaitGroup), the parent waits for all of them, starts the
// clock and releases them (a go byte on a control pipe; a sync.Event), so
// process start-up is never timed. Consumers run in the parent (two
// goroutines reading the same descriptor or queue when pairs=2),
// producers in children.
//
// # Memory layout
//
// None: this package shares no memory. Its byte streams carry raw,
// fixed-size messages with no framing, because every message has the same
// size and the reader reads exactly that many bytes.
//
// # Caveats
//
// Two writers on one pipe or stream socket interleave their bytes unless
// each write is atomic: pipe writes are atomic up to PIPE_BUF (4096
// bytes), so pairs=2 on a pipe stops at 4 KiB, and the socket rival uses
// SOCK_SEQPACKET for pairs=2, whose messages must fit the socket buffer,
// so it also stops at 4 KiB. Those cases are skipped with the reason, not
// faked. Go channels cannot hold elements of 64 KiB or more, so the 1 MiB
// channel rival sends a buffer from a free list and the consumer copies it
// out: one copy in, one copy out, like the other rivals.
package bench
