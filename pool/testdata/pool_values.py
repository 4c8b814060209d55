"""Python's multiprocessing.Pool.map over N constant small values, the
rival of forkless's BenchmarkMap/chunk=auto/values=constant (pool/bench_test.go).

usage: python3 pool_values.py WORKERS N VALUE
  Pool.map(square, [VALUE] * N) with Python's automatic chunks;
  prints: ns per item (wall)

The pool (WORKERS processes, fork start method) is started and warmed up
before the clock starts, as bench/python/pool_bench.py does.
"""
import multiprocessing as mp
import sys
import time


def square(x):
    return x * x


def main():
    workers, n, value = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    items = [value] * n
    pool = mp.get_context("fork").Pool(workers)
    with pool:
        pool.map(square, range(1000))  # warm up: workers started and serving
        t0 = time.perf_counter_ns()
        out = pool.map(square, items)
        dt = time.perf_counter_ns() - t0
        assert out[-1] == value * value and len(out) == n
        print(dt / n)


if __name__ == "__main__":
    main()
