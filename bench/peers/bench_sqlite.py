"""record_event for the Python peers (Celery, RQ): the same table, pragmas and
one-row-per-transaction insert as forkpool's built-in handler
(lib/handlers/handler_record_event.c). The connection is opened once per process and
kept: under Celery that is once per pool child; under RQ, whose default worker
forks a fresh work horse per job, the process is the job, so it is once per job
(RQ's design, not a choice made here)."""
import os
import sqlite3

CREATE = ("CREATE TABLE IF NOT EXISTS events ("
          "id INTEGER PRIMARY KEY, action TEXT, timestamp TEXT, org_id TEXT, user_id TEXT,"
          " object_id TEXT, object_type TEXT)")
INSERT = ("INSERT INTO events (action, timestamp, org_id, user_id, object_id, object_type)"
          " VALUES (?, ?, ?, ?, ?, ?)")
FIELDS = ("action", "timestamp", "org_id", "user_id", "object_id", "object_type")

_conn = None


def open_db():
    """The process's connection: WAL, synchronous=NORMAL, autocommit (each
    INSERT is its own transaction, as in forkpool), 5 s busy timeout."""
    global _conn
    if _conn is None:
        conn = sqlite3.connect(os.environ.get("BENCH_DB", "events.db"), timeout=5.0,
                               isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(CREATE)
        _conn = conn
    return _conn


def record(args):
    """One row; sqlite3's statement cache keeps the INSERT prepared."""
    open_db().execute(INSERT, tuple(args.get(f) for f in FIELDS))
