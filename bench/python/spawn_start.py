"""Start-to-exit of child processes with Python's multiprocessing, the
baseline of forkless's spawn benchmarks (spawn/bench_test.go).

usage: python3 spawn_start.py METHOD N BATCH
  METHOD  fork, spawn or forkserver
  N       how many rounds to time
  BATCH   children started at once per round (then all joined)

Prints the mean nanoseconds per round (start BATCH children, join them all).
"""
import multiprocessing as mp
import sys
import time


def noop():
    pass


def main():
    method, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = mp.get_context(method)
    # Warm up once: the first spawn/forkserver start pays one-time costs.
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        ps = [ctx.Process(target=noop) for _ in range(batch)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
            if p.exitcode != 0:
                sys.exit("child failed: exit code %s" % p.exitcode)
    print((time.perf_counter_ns() - t0) / n)


if __name__ == "__main__":
    main()
