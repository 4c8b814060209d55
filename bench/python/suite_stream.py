"""One-way messaging on multiprocessing.Queue, the Python rival of BenchmarkStream.

Usage: python3 suite_stream.py SIZE PAIRS COUNT

PAIRS producer processes put COUNT messages of SIZE bytes in total on one
multiprocessing.Queue; PAIRS consumer processes get them. The clock runs from
the moment the producers are released (all processes already started) until
every consumer has its share, so interpreter and process start-up are not
timed. Prints one line per figure, "name value": msgs_per_sec and ns_per_msg.
"""
import multiprocessing as mp
import sys
import time


def produce(q, go, size, count):
    msg = bytes(size)
    go.wait()
    for _ in range(count):
        q.put(msg)
    q.put(None)


def consume(q, got):
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
    go = ctx.Event()
    got = ctx.Value("q", 0)
    shares = [count // pairs + (1 if i < count % pairs else 0) for i in range(pairs)]
    producers = [ctx.Process(target=produce, args=(q, go, size, s)) for s in shares]
    consumers = [ctx.Process(target=consume, args=(q, got)) for _ in range(pairs)]
    for p in producers + consumers:
        p.start()
    time.sleep(0.05)  # let every process reach its wait
    t0 = time.perf_counter()
    go.set()
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
