#!/usr/bin/env python3
"""mixed_send.py --port P --short N --long L [--short-ms 1] [--long-ms 1000]
[--seed 16] [--key fp:{default}:jobs]

The producer of bench/steer.sh's mixed run: N short and L long
latency_probe jobs (the plugin sleeps args.ms, as the built-in sleep handler
does), the long ones at random positions drawn with a fixed seed, XADDed in
that order in pipelined chunks. Each job carries its position ("i") and the
CLOCK_MONOTONIC ns just before its chunk is written ("t"), which is what
bench/mixed_report.py reads back from the plugin's trace. Needs redis-py
(Debian's python3-redis, from scripts/bootstrap.sh)."""
import argparse
import json
import random
import time

import redis

CHUNK = 500  # XADDs per round trip: the queue fills in well under a second


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", default="fp:{default}:jobs")
    ap.add_argument("--short", type=int, required=True)
    ap.add_argument("--long", type=int, required=True)
    ap.add_argument("--short-ms", type=int, default=1)
    ap.add_argument("--long-ms", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    total = a.short + a.long
    long_at = set(random.Random(a.seed).sample(range(total), a.long))
    r = redis.Redis(host="127.0.0.1", port=a.port)
    for first in range(0, total, CHUNK):
        pipe = r.pipeline(transaction=False)
        t = time.monotonic_ns()  # CLOCK_MONOTONIC, the plugin's clock
        for i in range(first, min(first + CHUNK, total)):
            ms = a.long_ms if i in long_at else a.short_ms
            job = {"type": "latency_probe", "args": {"t": str(t), "ms": ms, "i": i}}
            pipe.xadd(a.key, {"job": json.dumps(job, separators=(",", ":"))})
        pipe.execute()
    print("sent=%d long=%d" % (total, a.long))


if __name__ == "__main__":
    main()
