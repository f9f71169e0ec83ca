#!/usr/bin/env python3
"""mixed_send.py --port P --short N --long L [--short-ms 1] [--long-ms 1000]
[--seed 16] [--key fp:{default}:jobs] [--long-type latency_probe_long]

The producer of bench/steer.sh's mixed run: N short and L long
latency_probe jobs (the plugin sleeps args.ms, as the built-in sleep handler
does), the long ones at random positions drawn with a fixed seed, XADDed in
that order in pipelined chunks. Each job carries its position ("i") and the
CLOCK_MONOTONIC ns just before its chunk is written ("t"), which is what
bench/mixed_report.py reads back from the plugin's trace. The long jobs
have a type of their own (--long-type; "latency_probe" makes them one type
with the short ones, where the daemon's per-type rule cannot tell them
apart: docs/steering.md). Needs redis-py
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
    ap.add_argument("--long-type", default="latency_probe_long")
    a = ap.parse_args()
    total = a.short + a.long
    long_at = set(random.Random(a.seed).sample(range(total), a.long))
    r = redis.Redis(host="127.0.0.1", port=a.port)
    for first in range(0, total, CHUNK):
        pipe = r.pipeline(transaction=False)
        t = time.monotonic_ns()  # CLOCK_MONOTONIC, the plugin's clock
        for i in range(first, min(first + CHUNK, total)):
            long = i in long_at
            ms = a.long_ms if long else a.short_ms
            kind = a.long_type if long else "latency_probe"
            job = {"type": kind, "args": {"t": str(t), "ms": ms, "i": i}}
            pipe.xadd(a.key, {"job": json.dumps(job, separators=(",", ":"))})
        pipe.execute()
    print("sent=%d long=%d" % (total, a.long))


if __name__ == "__main__":
    main()
