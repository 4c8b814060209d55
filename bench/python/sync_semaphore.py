"""Baseline for sync's BenchmarkSemaphorePingPong: two processes hand a
unit back and forth through two multiprocessing.Semaphores.

usage: python3 sync_semaphore.py N   (N round trips)
prints: ns_per_op X   (nanoseconds per round trip)
"""
import multiprocessing as mp
import sys
import time


def child(ping, pong, n):
    for _ in range(n):
        ping.acquire()
        pong.release()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    ctx = mp.get_context("fork")
    ping, pong = ctx.Semaphore(0), ctx.Semaphore(0)
    p = ctx.Process(target=child, args=(ping, pong, n + 1))
    p.start()
    ping.release()
    pong.acquire()
    t0 = time.perf_counter()
    for _ in range(n):
        ping.release()
        pong.acquire()
    el = time.perf_counter() - t0
    p.join()
    print(f"ns_per_op {el * 1e9 / n:.1f}")


if __name__ == "__main__":
    main()
