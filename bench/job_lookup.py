#!/usr/bin/env python3
"""job_lookup.py: what one job look-up by payload id costs Redis.

Fills a private redis-server (loopback, temp dir) with 10,000 ready and
10,000 delayed jobs, then looks up an id found nowhere and one found early,
5 times each, at the given scan bound, and prints Redis' own time per call
(INFO commandstats, usec_per_call of EVAL): the time during which Redis
serves nobody else. docs/redis.md ("Finding one job") quotes it.

    bench/job_lookup.py [SCAN ...]      # default: 1000 10000
Never part of the test suite; run it on a quiet machine.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forkpool import Client  # noqa: E402
from private_redis import private_redis  # noqa: E402


def main(scans: list) -> None:
    with private_redis() as (port, _):
        client = Client("redis://127.0.0.1:%d/0" % port)
        client.enqueue_many([{"type": "t", "args": {"n": i, "pad": "x" * 100},
                              "job_id": "order-%d" % i} for i in range(10000)])
        client.enqueue_many([{"type": "t", "delay": "1h", "job_id": "d-%d" % i}
                             for i in range(10000)])
        print("scan\tlookup\tusec_per_call")
        for scan in scans:
            for job_id, what in (("missing", "found nowhere"), ("order-1", "found early")):
                client.redis.config_resetstat()
                for _ in range(5):
                    client.job(job_id, scan=scan)
                stat = client.redis.info("commandstats").get("cmdstat_eval", {})
                print("%d\t%s\t%s" % (scan, what, stat.get("usec_per_call")))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
