"""Baseline for sync's BenchmarkEventPingPong: the round trip of a
multiprocessing.Event ping-pong between two processes.

usage: python3 sync_event.py N   (N round trips)
prints: ns_per_op X   (nanoseconds per round trip)
"""
import multiprocessing as mp
import sys
import time


def child(ping, pong, n):
    for _ in range(n):
        ping.wait()
        ping.clear()
        pong.set()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    ctx = mp.get_context("fork")
    ping, pong = ctx.Event(), ctx.Event()
    p = ctx.Process(target=child, args=(ping, pong, n + 1))
    p.start()
    # one round so the child's start-up is not timed
    ping.set()
    pong.wait()
    pong.clear()
    t0 = time.perf_counter()
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    el = time.perf_counter() - t0
    p.join()
    print(f"ns_per_op {el * 1e9 / n:.1f}")


if __name__ == "__main__":
    main()
