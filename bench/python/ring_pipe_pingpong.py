"""Baseline for ring's BenchmarkPipePingPong: multiprocessing.Pipe round
trips of SIZE-byte messages to an echoing child.

usage: ring_pipe_pingpong.py SIZE N

Prints p50 and p99 of the round trips, then, last, "ns/roundtrip VALUE"
(the mean).
"""
import multiprocessing as mp
import sys
import time


def echo(conn, other):
    other.close()  # the parent's end, inherited through fork: keep it and recv never sees EOF
    while True:
        try:
            m = conn.recv_bytes()
        except EOFError:
            return
        conn.send_bytes(m)


def main():
    size, n = int(sys.argv[1]), int(sys.argv[2])
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(duplex=True)
    p = ctx.Process(target=echo, args=(b, a))
    p.start()
    b.close()
    msg = b"x" * size
    for _ in range(100):
        a.send_bytes(msg)
        a.recv_bytes()
    rtt = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter_ns()
        a.send_bytes(msg)
        a.recv_bytes()
        rtt.append(time.perf_counter_ns() - t0)
    el = time.perf_counter() - start
    a.close()
    p.join()
    rtt.sort()
    print(f"p50-ns {rtt[len(rtt) // 2]} p99-ns {rtt[len(rtt) * 99 // 100]}")
    print(f"ns/roundtrip {el / n * 1e9:.1f}")


if __name__ == "__main__":
    main()
