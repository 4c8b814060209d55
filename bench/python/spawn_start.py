"""Start-to-exit of child processes with Python's multiprocessing, the
baseline of forkless's spawn benchmarks (spawn/bench_test.go).

usage: python3 spawn_start.py METHOD N BATCH
  METHOD  fork, spawn or forkserver
  N       how many rounds to time
  BATCH   children started at once per round (then all joined)

Prints the mean nanoseconds per round (start BATCH children, join them all).

usage: python3 spawn_start.py serve
  Reads lines "METHOD BATCH" on standard input and answers each with the
  nanoseconds of one such round, so that a Go benchmark can interleave
  Python rounds with its own and compare them under the same load.
"""
import multiprocessing as mp
import sys
import time


def noop():
    pass


def round_ns(ctx, batch):
    t0 = time.perf_counter_ns()
    ps = [ctx.Process(target=noop) for _ in range(batch)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
        if p.exitcode != 0:
            sys.exit("child failed: exit code %s" % p.exitcode)
    return time.perf_counter_ns() - t0


def serve():
    ctxs = {}
    for line in sys.stdin:
        method, batch = line.split()
        if method not in ctxs:
            ctxs[method] = mp.get_context(method)
            round_ns(ctxs[method], 1)  # warm up
        print(round_ns(ctxs[method], int(batch)), flush=True)


def main():
    if sys.argv[1] == "serve":
        serve()
        return
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
