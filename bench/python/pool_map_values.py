"""Python's Pool.map over one kind of item, the rival of BenchmarkPoolMapValues.

Usage: python3 pool_map_values.py WORKERS N VALUES

Pool.map(square, items) with Python's automatic chunks over N items:
VALUES "distinct" maps range(N) (0, 1, 2, ...), "constant" maps N copies of
the small int 7. The pool (WORKERS processes, fork start method) is started
and warmed up before the clock starts. Prints "ns_per_item VALUE".
"""
import multiprocessing as mp
import sys
import time


def square(x):
    return x * x


def main():
    workers, n, values = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if values == "distinct":
        items = range(n)
    elif values == "constant":
        items = [7] * n
    else:
        sys.exit("unknown values " + values)
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(square, range(1000))  # warm up: workers started and serving
        t0 = time.perf_counter_ns()
        out = pool.map(square, items)
        dt = time.perf_counter_ns() - t0
        assert len(out) == n and out[-1] == square(items[-1])
    print("ns_per_item", dt / n)


if __name__ == "__main__":
    main()
