"""Python's multiprocessing.Pool, the baseline of forkless's spawn.Pool
benchmarks (spawn/pool_bench_test.go).

usage: python3 pool_bench.py MODE WORKERS N [CHUNK]
  map      Pool.map(square, range(N)) with CHUNK ("auto": Python's rule)
           prints: ns per item (wall), then CPU ns per item of this process
           and its workers (reaped), start-up and warm-up included
  apply    N x apply_async(square, (i,)), then .get() on every result
           prints: ns per task
  latency  N x apply_async(square, (i,)).get(), one at a time
           prints: p50 and p99 nanoseconds of one submit-to-result

The pool (WORKERS processes, fork start method, Linux's default in 3.11) is
started and warmed up before the clock starts.
"""
import multiprocessing as mp
import resource
import sys
import time


def square(x):
    return x * x


def cpu_ns():
    t = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        t += r.ru_utime + r.ru_stime
    return t * 1e9


def main():
    mode, workers, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    chunk = sys.argv[4] if len(sys.argv) > 4 else "auto"
    cpu0 = cpu_ns()
    pool = mp.get_context("fork").Pool(workers)
    with pool:
        pool.map(square, range(1000))  # warm up: workers started and serving
        if mode == "map":
            cs = None if chunk == "auto" else int(chunk)
            t0 = time.perf_counter_ns()
            out = pool.map(square, range(n), chunksize=cs)
            dt = time.perf_counter_ns() - t0
            assert out[-1] == (n - 1) ** 2
            pool.close()
            pool.join()  # workers reaped: their CPU time is in RUSAGE_CHILDREN
            print(dt / n, (cpu_ns() - cpu0) / n)
        elif mode == "apply":
            t0 = time.perf_counter_ns()
            rs = [pool.apply_async(square, (i,)) for i in range(n)]
            for r in rs:
                r.get()
            dt = time.perf_counter_ns() - t0
            print(dt / n)
        elif mode == "latency":
            lat = []
            for i in range(n):
                t0 = time.perf_counter_ns()
                pool.apply_async(square, (i,)).get()
                lat.append(time.perf_counter_ns() - t0)
            lat.sort()
            print(lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)])
        else:
            sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
