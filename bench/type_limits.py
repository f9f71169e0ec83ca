#!/usr/bin/env python3
"""type_limits.py: what a rate limit per job type does to a run.

Starts a private redis-server (loopback, temp dir), enqueues JOBS noop jobs
(identical payloads without an id, as `forkpool enqueue --count` adds them),
runs `forkpool run --burst` with 4 native children and
[limits.noop] rate = RATE, and prints, from the ledger, the span between the
first and the last start, the starts per second and the run's wall time.
docs/limits.md ("Measured") quotes it.

    bench/type_limits.py [--bin build/forkpool] [--jobs 1000] [--rate 50/s]
Never part of the test suite; a run takes about JOBS / RATE seconds.
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from private_redis import private_redis  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                  "forkpool"))
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--rate", default="50/s")
    a = ap.parse_args()
    with private_redis() as (port, d):
        config = os.path.join(d, "forkpool.toml")
        ledger = os.path.join(d, "ledger.db")
        with open(config, "w") as f:
            f.write('[redis]\nurl = "redis://127.0.0.1:%d/0"\n[health]\nlisten = ""\n'
                    '[pool]\nchildren = 4\n[ledger]\npath = "%s"\n'
                    '[limits.noop]\nrate = "%s"\n' % (port, ledger, a.rate))
        subprocess.run([a.bin, "enqueue", "-c", config, "--count", str(a.jobs), "noop"],
                       check=True, stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        subprocess.run([a.bin, "run", "-c", config, "--burst"], check=True,
                       stderr=subprocess.DEVNULL)
        wall = time.monotonic() - t0
        db = sqlite3.connect(ledger)
        n, first, last = db.execute("SELECT count(*), min(started_at), max(started_at) "
                                    "FROM jobs WHERE outcome = 'ok'").fetchone()
        span = (last - first) / 1000.0
        print("jobs\trate\tstart_span_s\tstarts_per_s\twall_s")
        print("%d\t%s\t%.2f\t%.1f\t%.1f" % (n, a.rate, span, (n - 1) / span if span else 0, wall))


if __name__ == "__main__":
    main()
