"""RQ peer: the three bench workloads as plain functions. RQ's default worker
forks a work horse per job and imports this module there, so the SQLite
connection (opened once per process, as for Celery) is opened once per job."""
import time

import bench_sqlite


def noop(args):
    return None


def sleep(args):
    time.sleep(args["ms"] / 1000.0)


def record_event(args):
    bench_sqlite.record(args)
