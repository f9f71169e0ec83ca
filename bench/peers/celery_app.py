"""Celery peer: the three bench workloads as Celery tasks. Redis broker from
BENCH_REDIS_URL, no result backend, results ignored. acks_late so that a job
leaves the broker only once it has run (forkpool's contract, and what lets the
driver see completion in Redis without any per-job work of its own); it is the
same one ack per job as Celery's default early ack, only later.

Run: python3 -m celery -A celery_app worker -P prefork -c 4 (see bench/compare.sh)."""
import os
import sys
import time

from celery import Celery
from celery.signals import worker_process_init, worker_ready

import bench_sqlite

app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=True,
    task_serializer="json",
    accept_content=["json"],
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
)


@worker_process_init.connect
def _open_db(**_):
    # Once per prefork child, after the fork (a connection never crosses a fork).
    bench_sqlite.open_db()


@worker_ready.connect
def _ready(**_):
    # Celery's own "ready" signal, printed once; the driver times start-up to it.
    print("BENCH-READY", file=sys.stderr, flush=True)


@app.task(name="noop", ignore_result=True)
def noop(args):
    return None


@app.task(name="sleep", ignore_result=True)
def sleep(args):
    time.sleep(args["ms"] / 1000.0)


@app.task(name="record_event", ignore_result=True)
def record_event(args):
    bench_sqlite.record(args)
