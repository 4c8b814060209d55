"""Python's Manager().list(), the baseline of forkless's shared.List
benchmark (shared/bench_test.go).

usage: python3 shared_list.py OP N
  OP  append: l.append(i)      get: l[i % 1000] (on a 1000-item list)
  N   operations, from one process
prints: nanoseconds per operation.
"""
import multiprocessing as mp
import sys
import time


def main():
    op, n = sys.argv[1], int(sys.argv[2])
    with mp.get_context("fork").Manager() as m:
        lst = m.list(range(1000))
        t0 = time.perf_counter_ns()
        if op == "append":
            for i in range(n):
                lst.append(i)
        else:
            for i in range(n):
                lst[i % 1000]
        print((time.perf_counter_ns() - t0) / n)


if __name__ == "__main__":
    main()
