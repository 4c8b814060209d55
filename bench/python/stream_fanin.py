"""Fan-in on multiprocessing.Queue, the Python rival of BenchmarkStreamFanIn.

Usage: python3 stream_fanin.py SIZE PRODUCERS CONSUMERS COUNT

PRODUCERS processes put COUNT messages of SIZE bytes in total on one
multiprocessing.Queue; CONSUMERS processes get them. The clock runs from the
moment every process has reached a barrier (all started) until every
consumer has received its last message, so interpreter and process start-up
are not timed. Consumers stop at an end mark this process puts once per
consumer after every producer is done. Prints "name value" lines:
msgs_per_sec and ns_per_msg.
"""
import multiprocessing as mp
import sys
import time


def produce(q, start, size, count):
    msg = bytes(size)
    start.wait()
    for _ in range(count):
        q.put(msg)


def consume(q, start, got):
    start.wait()
    n = 0
    while q.get() is not None:
        n += 1
    with got.get_lock():
        got.value += n


def main():
    size, producers, consumers, count = (int(a) for a in sys.argv[1:5])
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    start = ctx.Barrier(producers + consumers + 1)
    got = ctx.Value("q", 0)
    shares = [count // producers + (1 if i < count % producers else 0) for i in range(producers)]
    prods = [ctx.Process(target=produce, args=(q, start, size, s)) for s in shares]
    cons = [ctx.Process(target=consume, args=(q, start, got)) for _ in range(consumers)]
    for p in prods + cons:
        p.start()
    start.wait()  # all started: process start-up is not timed
    t0 = time.perf_counter()
    for p in prods:
        p.join()
    for _ in cons:
        q.put(None)
    for c in cons:
        c.join()
    elapsed = time.perf_counter() - t0
    if got.value != count:
        sys.exit(f"received {got.value} messages, sent {count}")
    print(f"msgs_per_sec {count / elapsed:.1f}")
    print(f"ns_per_msg {elapsed * 1e9 / count:.1f}")


if __name__ == "__main__":
    main()
