"""One-way messaging on multiprocessing.Queue, the Python rival of BenchmarkStream.

Usage: python3 suite_stream.py SIZE PAIRS COUNT

PAIRS producer processes put COUNT messages of SIZE bytes in total on one
multiprocessing.Queue; PAIRS consumer processes get them. The clock runs from
the moment every process has reached a barrier (all started) until
every consumer has its share, so interpreter and process start-up are not
timed. Prints one line per figure, "name value": msgs_per_sec and ns_per_msg.
"""
import multiprocessing as mp
import sys
import time


def produce(q, start, size, count):
    msg = bytes(size)
    start.wait()
    for _ in range(count):
        q.put(msg)
    q.put(None)


def consume(q, start, got):
    start.wait()
    n = 0
    while True:
        m = q.get()
        if m is None:
            break
        n += 1
    with got.get_lock():
        got.value += n


def main():
    size, pairs, count = (int(a) for a in sys.argv[1:4])
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    start = ctx.Barrier(2 * pairs + 1)  # every producer and consumer, and this process
    got = ctx.Value("q", 0)
    shares = [count // pairs + (1 if i < count % pairs else 0) for i in range(pairs)]
    producers = [ctx.Process(target=produce, args=(q, start, size, s)) for s in shares]
    consumers = [ctx.Process(target=consume, args=(q, start, got)) for _ in range(pairs)]
    for p in producers + consumers:
        p.start()
    start.wait()  # all started: process start-up is not timed
    t0 = time.perf_counter()
    for c in consumers:
        c.join()
    elapsed = time.perf_counter() - t0
    for p in producers:
        p.join()
    if got.value != count:
        sys.exit(f"received {got.value} messages, sent {count}")
    print(f"msgs_per_sec {count / elapsed:.1f}")
    print(f"ns_per_msg {elapsed * 1e9 / count:.1f}")


if __name__ == "__main__":
    main()
