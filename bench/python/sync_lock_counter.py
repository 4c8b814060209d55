"""Baseline for sync's BenchmarkCounter2Procs: two processes increment one
shared counter under multiprocessing's Value.get_lock().

usage: python3 sync_lock_counter.py N   (N increments per process)
prints: ns_per_op X   (wall time per increment, both processes together)
"""
import multiprocessing as mp
import sys
import time


def work(v, n, start):
    start.wait()
    lock = v.get_lock()
    for _ in range(n):
        with lock:
            v.value += 1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    ctx = mp.get_context("fork")
    v = ctx.Value("q", 0)
    start = ctx.Barrier(3)
    ps = [ctx.Process(target=work, args=(v, n, start)) for _ in range(2)]
    for p in ps:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in ps:
        p.join()
    el = time.perf_counter() - t0
    assert v.value == 2 * n, v.value
    ns = el * 1e9 / (2 * n)
    print(f"ops_per_s {1e9 / ns:.0f}")
    print(f"ns_per_op {ns:.1f}")


if __name__ == "__main__":
    main()
