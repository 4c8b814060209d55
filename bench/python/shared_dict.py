"""Python's Manager().dict(), the baseline of forkless's shared.Dict
benchmarks (shared/bench_test.go).

usage: python3 shared_dict.py OP PROCS N
  OP     set: d["k%d" % (i % 1000)] = i      get: d["k%d" % (i % 1000)]
  PROCS  processes hammering the same dict proxy at once
  N      operations per process
prints: nanoseconds per operation per process (wall time from the common
start to the last finish, divided by N), the figure BenchmarkDict reports
as ns/op.

The manager server and the worker processes (fork start method, Linux's
default in 3.11) are started, and the 1000 keys set, before the clock starts.
"""
import multiprocessing as mp
import sys
import time


def worker(d, op, n, start, out):
    start.wait()
    t0 = time.perf_counter_ns()
    if op == "set":
        for i in range(n):
            d["k%d" % (i % 1000)] = i
    else:
        for i in range(n):
            d["k%d" % (i % 1000)]
    out.put((t0, time.perf_counter_ns()))


def main():
    op, procs, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context("fork")
    with ctx.Manager() as m:
        d = m.dict()
        for i in range(1000):
            d["k%d" % i] = i
        start, out = ctx.Event(), ctx.Queue()
        ps = [ctx.Process(target=worker, args=(d, op, n, start, out)) for _ in range(procs)]
        for p in ps:
            p.start()
        time.sleep(0.2)  # let every worker reach start.wait()
        start.set()
        times = [out.get() for _ in ps]
        for p in ps:
            p.join()
        wall = max(t1 for _, t1 in times) - min(t0 for t0, _ in times)
        print(wall / n)


if __name__ == "__main__":
    main()
