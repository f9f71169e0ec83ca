"""forkpool.embedded: the producer's side of the embedded queue, one SQLite
file on this host (docs/embedded.md), for Client(sqlite=PATH). Standard
library only (sqlite3), so a host without Redis needs no redis package.

Opening follows the C store's rules for an existing file (lib/sqlq/open.c,
lib/sqlq/header.c) and writes nothing before the file is accepted: its
first bytes must be SQLite's, not shorter than their page count says, then
a read-only connection reads application_id (FP_SQLQ_APPLICATION_ID),
user_version (at most FP_SQLQ_SCHEMA_VERSION) and the count of schema
objects. Only then is the file opened for writing, with the C side's
settings: WAL, busy timeout 5 s, synchronous NORMAL (or FULL), writes in
BEGIN IMMEDIATE. A missing or empty file is refused, not created: the
schema is the C store's alone (the daemon or `forkpool enqueue` makes it),
so there is no second copy to drift from it.

A row is what fp_sqlq_enqueue (lib/sqlq/pull.c) writes: queue, payload as
text, avail_at = now + delay, owner NULL, deliveries 0, enqueued_at = now,
by this host's wall clock in ms (the daemon's clock: one host).
"""
import os
import contextlib
import sqlite3
import threading
import time
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .errors import QueueFileError

__all__ = ["Store", "APPLICATION_ID", "SCHEMA_VERSION"]

# lib/sqlq/store.h: FP_SQLQ_APPLICATION_ID ("FPQ1"), FP_SQLQ_SCHEMA_VERSION,
# FP_SQLQ_BUSY_TIMEOUT_MS.
APPLICATION_ID = 0x46505131
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 5000

# recovery.visibility_timeout's default (lib/config/config_schema.c): a
# holder's idle time is reckoned from its latest lease, as `forkpool stats`
# does with the configured value.
DEFAULT_VISIBILITY_TIMEOUT_MS = 60000

# lib/sqlq/open.c, SQ_INSERT: python/tests/test_client_embedded.py checks
# that the two are the same text.
INSERT_SQL = ("INSERT INTO jobs (queue, payload, avail_at, owner, deliveries, enqueued_at)"
              " VALUES (?1, ?2, ?3, NULL, ?4, ?5)")

# lib/sqlq/open.c, SQ_COUNTS, SQ_DEAD_COUNT; lib/sqlq/inspect.c, the view.
_COUNTS_SQL = ("SELECT coalesce(sum(owner IS NULL AND avail_at <= ?2), 0),"
               " coalesce(sum(owner IS NULL AND avail_at > ?2), 0),"
               " coalesce(sum(owner IS NOT NULL), 0) FROM jobs WHERE queue = ?1")
_DEAD_COUNT_SQL = "SELECT count(*) FROM dead WHERE queue = ?1"
_OLDEST_SQL = ("SELECT id, avail_at FROM jobs WHERE queue = ?1 AND avail_at <= ?2"
               " AND owner IS NULL ORDER BY avail_at, id LIMIT 1")
_HOLDERS_SQL = ("SELECT owner, count(*), max(avail_at) FROM jobs"
                " WHERE owner IS NOT NULL AND queue = ?1 GROUP BY owner ORDER BY owner")
_DEAD_PAGE_SQL = ("SELECT id, payload, error, consumer, attempts, failed_at FROM dead"
                  " WHERE queue = ?1 ORDER BY id LIMIT ?2")
# lib/sqlq/inspect.c, fp_sqlq_find: a row id, or the payload's "id".
_PAYLOAD_ID = ("CAST(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.id') END"
               " AS TEXT)")
_FIND_JOB_SQL = ("SELECT id, payload, owner, avail_at, deliveries FROM jobs WHERE queue = ?1"
                 " AND (id = ?2 OR " + _PAYLOAD_ID + " = ?3) ORDER BY id = ?2 DESC, id LIMIT 1")
_FIND_DEAD_SQL = ("SELECT id, payload, consumer, error, attempts, failed_at FROM dead"
                  " WHERE queue = ?1 AND " + _PAYLOAD_ID + " = ?2 ORDER BY id DESC LIMIT 1")

# lib/sqlq/unique.c and lib/sqlq/kv.c: a unique key is the kv value
# (space "unique:QUEUE", key K) holding the job's id until expires_at; live
# is kv.c's LIVE condition.
UNIQUE_SPACE = "unique:"
_KV_LIVE_SQL = ("SELECT value FROM kv WHERE space = ?1 AND key = ?2 AND"
                " (expires_at IS NULL OR expires_at = 0 OR expires_at > ?3)")
_KV_PUT_SQL = "INSERT OR REPLACE INTO kv (space, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)"

_MAGIC = b"SQLite format 3\x00"
_HEADER_LEN = 100

# A new row: (queue, payload text, delay in ms).
NewRow = Tuple[str, str, int]


def now_ms() -> int:
    """The wall clock in Unix ms, as fp_os_unix_ms reads it."""
    return time.time_ns() // 1000000


def _be32(b: bytes) -> int:
    return int.from_bytes(b, "big")


def check_header(head: bytes, file_size: int, wal_present: bool) -> Optional[str]:
    """Why the first bytes refuse the file, or None (fp_sqlq_header_check)."""
    if len(head) < _HEADER_LEN or head[:16] != _MAGIC:
        return "not an SQLite database"
    psize = head[16] << 8 | head[17]
    psize = 65536 if psize == 1 else psize
    if psize < 512 or psize & (psize - 1):
        return "damaged SQLite header (page size)"
    # The page count is trusted only when "version-valid-for" equals the
    # change counter; a -wal file may hold the pages the file lacks.
    if wal_present or _be32(head[24:28]) != _be32(head[92:96]):
        return None
    pages = _be32(head[28:32])
    if pages * psize > file_size:
        return ("truncated: the header counts %d pages of %d bytes, the file has %d bytes"
                % (pages, psize, file_size))
    return None


def check_identity(application_id: int, user_version: int, objects: int) -> Optional[str]:
    """Why the database is refused, or None (fp_sqlq_identity_check; an
    empty database is refused here: only the C store creates the schema)."""
    if application_id == 0 and user_version == 0 and objects == 0:
        return "an empty database"
    if application_id != APPLICATION_ID:
        return ("an SQLite database of another application (application_id %d, forkpool's "
                "is %d)" % (application_id, APPLICATION_ID))
    if user_version > SCHEMA_VERSION:
        return ("written by a newer forkpool (schema version %d, this one reads up to %d)"
                % (user_version, SCHEMA_VERSION))
    if user_version < 1:
        return "a forkpool queue file without a schema version"
    return None


def _missing(path: str) -> QueueFileError:
    return QueueFileError(path, "no embedded queue at %s: start the daemon or run `forkpool "
                                "enqueue` once (they create it)" % path)


def _uri(path: str, mode: str) -> str:
    return "file:%s?mode=%s" % (urllib.request.pathname2url(path), mode)


def _look(path: str) -> None:
    """Raises QueueFileError unless path is a forkpool queue file; reads only."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_LEN)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as e:
        raise QueueFileError(path, "queue file %s: %s" % (path, e.strerror)) from None
    if size == 0:
        raise _missing(path)
    wal = path + "-wal"
    reason = check_header(head, size, os.path.exists(wal) and os.path.getsize(wal) > 0)
    if reason is None:
        # Read-only: closing it never checkpoints a -wal into a file that
        # turns out not to be ours.
        try:
            conn = sqlite3.connect(_uri(path, "ro"), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                app, version, objects = (
                    conn.execute(sql).fetchone()[0]
                    for sql in ("PRAGMA application_id", "PRAGMA user_version",
                                "SELECT count(*) FROM sqlite_master"))
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            reason = str(e)
        else:
            reason = check_identity(app, version, objects)
            if reason == "an empty database":
                raise _missing(path)
    if reason is not None:
        raise QueueFileError(path, "queue file %s: %s; it was left as it was" % (path, reason))


# Taken only to reopen a connection after a fork.
_reopening = threading.Lock()


class Store:
    """One connection to an accepted queue file (see the module's doc),
    shared by the threads of a process, one transaction at a time, and
    opened again in a forked child: an SQLite connection must not cross a
    fork (a pre-forking web server may make the Client before it forks)."""

    def __init__(self, path: str, synchronous: str = "normal") -> None:
        if synchronous not in ("normal", "full"):
            raise ValueError("synchronous must be \"normal\" or \"full\" (sqlite.synchronous)")
        self.path = os.path.abspath(path)
        self._synchronous = synchronous
        _look(self.path)
        self._conn = self._connect()
        self._pid = os.getpid()
        self._lock = threading.RLock()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level None: no implicit transactions; each write is the
        # explicit BEGIN IMMEDIATE below, as the C store takes its lock first.
        conn = sqlite3.connect(_uri(self.path, "rw"), uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise QueueFileError(self.path, "queue file %s: WAL mode refused (journal "
                                                "mode %s)" % (self.path, mode))
            conn.execute("PRAGMA busy_timeout=%d" % BUSY_TIMEOUT_MS)
            conn.execute("PRAGMA synchronous=%s" % self._synchronous.upper())
            conn.execute("PRAGMA journal_size_limit=67108864")
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This process's connection."""
        if self._pid != os.getpid():
            with _reopening:
                if self._pid != os.getpid():
                    # The parent's connection is left alone, not closed: it
                    # is the parent's. A lock another thread held at the
                    # fork would never be released here: a new one.
                    self._lock = threading.RLock()
                    self._conn = self._connect()
                    self._pid = os.getpid()
        return self._conn

    @contextlib.contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """The connection, for one thread's transaction at a time."""
        conn = self.conn
        with self._lock:
            yield conn

    def close(self) -> None:
        if self._pid == os.getpid():
            self._conn.close()

    def enqueue(self, rows: Sequence[NewRow], now: int) -> List[int]:
        """Adds the rows in one BEGIN IMMEDIATE transaction (all or none);
        returns their row ids in order."""
        ids: List[int] = []
        if not rows:
            return ids
        with self._using() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for queue, payload, delay in rows:
                    cur = db.execute(INSERT_SQL, (queue, payload, now + delay, 0, now))
                    ids.append(int(cur.lastrowid or 0))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return ids

    def enqueue_unique(self, queue: str, key: str, job_id: str, ttl_ms: int, payload: str,
                       delay: int, now: int) -> Tuple[str, bool]:
        """fp_sqlq_unique_enqueue (lib/sqlq/unique.c) in one BEGIN IMMEDIATE
        transaction: (the holder's id, True) when a live key holds (queue,
        key), nothing written; else the key set to job_id until now + ttl_ms
        and the row added, (job_id, False)."""
        space = UNIQUE_SPACE + queue
        with self._using() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                held = db.execute(_KV_LIVE_SQL, (space, key, now)).fetchone()
                if held is None:
                    db.execute(_KV_PUT_SQL, (space, key, job_id, now + ttl_ms))
                    db.execute(INSERT_SQL, (queue, payload, now + delay, 0, now))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return (str(held[0]), True) if held is not None else (job_id, False)

    def _read(self, fn: Any) -> Any:
        """fn(db) inside one read transaction: its reads see one state."""
        with self._using() as db:
            db.execute("BEGIN")
            try:
                return fn(db)
            finally:
                db.execute("ROLLBACK")

    def queue_stats(self, queue: str, now: int,
                    visibility_timeout_ms: int = DEFAULT_VISIBILITY_TIMEOUT_MS) -> Dict[str, Any]:
        """One queue as `forkpool stats --json` shows it on the embedded
        queue (cmd/forkpool/stats_embedded.c)."""
        def read(db: sqlite3.Connection) -> Dict[str, Any]:
            ready, delayed, leased = db.execute(_COUNTS_SQL, (queue, now)).fetchone()
            dead = db.execute(_DEAD_COUNT_SQL, (queue,)).fetchone()[0]
            oldest = db.execute(_OLDEST_SQL, (queue, now)).fetchone()
            holders = db.execute(_HOLDERS_SQL, (queue,)).fetchall()
            consumers = [{"name": owner, "pending": rows,
                          "idle_ms": max(0, now - (lease_end - visibility_timeout_ms))}
                         for owner, rows, lease_end in holders]
            return {"name": queue, "ready": ready, "ready_exact": True, "pending": leased,
                    "delayed": delayed, "dead": dead, "length": ready + leased,
                    "group_exists": True,
                    "oldest_ready_id": None if oldest is None else str(oldest[0]),
                    "oldest_ready_age_ms": None if oldest is None else max(0, now - oldest[1]),
                    "consumers": consumers}
        return dict(self._read(read))

    def dead_rows(self, queue: str, limit: int) -> List[Tuple[Any, ...]]:
        """(id, payload, error, consumer, attempts, failed_at), oldest first."""
        with self._using() as db:
            return list(db.execute(_DEAD_PAGE_SQL, (queue, limit)).fetchall())

    def find(self, queue: str, id: str) -> Tuple[str, Optional[Tuple[Any, ...]]]:
        """("job", row) for a job row found by row id or payload id, ("dead",
        row) for a dead row found by payload id, ("", None) for neither."""
        row_id = int(id) if id.isascii() and id.isdigit() and len(id) < 19 else -1  # none has -1
        def read(db: sqlite3.Connection) -> Tuple[str, Optional[Tuple[Any, ...]]]:
            row = db.execute(_FIND_JOB_SQL, (queue, row_id, id)).fetchone()
            if row is not None:
                return "job", tuple(row)
            row = db.execute(_FIND_DEAD_SQL, (queue, id)).fetchone()
            return ("dead", tuple(row)) if row is not None else ("", None)
        found: Tuple[str, Optional[Tuple[Any, ...]]] = self._read(read)
        return found
