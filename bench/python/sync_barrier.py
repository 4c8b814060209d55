"""Baseline for sync's BenchmarkBarrier2Procs: two processes pass a
multiprocessing.Barrier(2) again and again.

usage: python3 sync_barrier.py N   (N generations)
prints: ns_per_op X   (nanoseconds per generation)
"""
import multiprocessing as mp
import sys
import time


def child(b, n):
    for _ in range(n):
        b.wait()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    ctx = mp.get_context("fork")
    b = ctx.Barrier(2)
    p = ctx.Process(target=child, args=(b, n + 1))
    p.start()
    b.wait()
    t0 = time.perf_counter()
    for _ in range(n):
        b.wait()
    el = time.perf_counter() - t0
    p.join()
    print(f"ns_per_op {el * 1e9 / n:.1f}")


if __name__ == "__main__":
    main()
