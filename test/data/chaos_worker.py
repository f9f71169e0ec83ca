"""chaos_worker.py EVENTS_DB DIR: the exec worker of the fault suite's long
run (test_it_faults.c, test_chaos_every_fault_one_run). It records each job's
id in EVENTS_DB (table events, column object_id, as record_event does; the
test creates it in WAL mode) and misbehaves once per job that asks for it:
args.chaos = "close" closes its channel and hangs, "grandchild" leaves a
shell and its `sleep` behind (args.marker in the shell's command line) and hangs, "kill" dies by SIGKILL. A file DIR/hang-start makes
one starting child (the one that renames it first) never say ready.
A job's second attempt (a file DIR/chaos-ID marks the first) behaves.
Every job appends "start ID:PID T" and "stop ID:PID T" to DIR/spans
(T: CLOCK_MONOTONIC ns), from which the test reads how many ran at once
(its [limits.event] concurrency)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

EVENTS_DB, DIR = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

try:
    os.rename(os.path.join(DIR, "hang-start"), os.path.join(DIR, "hang-start.taken"))
    while True:  # a child that never starts: pool.start_timeout ends it
        time.sleep(3600)
except FileNotFoundError:
    pass

from forkpool_worker import handler, run  # noqa: E402

DB = sqlite3.connect(EVENTS_DB, timeout=60, isolation_level=None)
DB.execute("PRAGMA synchronous = OFF")  # a test's rows, not a bank's: no fsync per job


def first_time(job_id):
    """True once per id: the second attempt of a misbehaving job succeeds."""
    try:
        os.close(os.open(os.path.join(DIR, "chaos-" + job_id), os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


def hang():
    while True:
        time.sleep(3600)


SPANS = os.open(os.path.join(DIR, "spans"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def span(what, job_id):
    os.write(SPANS, ("%s %s:%d %d\n" % (what, job_id, os.getpid(), time.monotonic_ns())).encode())


@handler("event")
def event(args):
    job_id = args["object_id"]
    span("start", job_id)
    try:
        run_event(args, job_id)
    finally:
        span("stop", job_id)
    return None


def run_event(args, job_id):
    chaos = args.get("chaos")
    if chaos and first_time(job_id):
        if chaos == "close":
            os.close(int(os.environ["FORKPOOL_FD"]))
            hang()
        if chaos == "grandchild":
            subprocess.Popen(["sh", "-c", "sleep 1000; :", args["marker"]])
            hang()
        if chaos == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
    DB.execute("INSERT INTO events (object_id) VALUES (?)", (job_id,))


run()
