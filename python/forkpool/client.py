"""forkpool.client: the producer side. Adds jobs with the same commands as
`forkpool enqueue`: XADD P:{Q}:jobs * job JSON, or, with a delay, ZADD
P:{Q}:delayed (Redis' TIME + delay) JSON; each job is built and checked by
forkpool.jobs first, so bad input sends nothing. On the embedded queue
(Client(sqlite=PATH)) the same jobs become rows of the queue file, written
as `forkpool enqueue` writes them there (forkpool.embedded).

Redis needs the redis package (Debian's python3-redis), imported only for a
Redis client; the embedded queue and the worker side do not.
"""
import itertools
import os
import re
import secrets
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import embedded
from .errors import NeedsRedis, NotReplicated
from .jobs import (DEFAULT_GROUP, DEFAULT_MAX_JOB_BYTES, DEFAULT_PREFIX, DEFAULT_QUEUE,
                   DEFAULT_URL, Delay, _is_int, _seconds, build_job, builtin_type, check_queue,
                   delay_ms, encode_job, parse_duration_ms)
from .lookup import JOB_SCRIPT, job_state, parse_payload
from .lookup import text as _text

__all__ = ["Client"]

PIPELINE = 1000                    # FP_ADMIN_PIPELINE: commands per round trip
WAIT_TIMEOUT = 1.0                 # wait_timeout's default, seconds (as the CLI's)
JOB_SCAN = 1000                    # job()'s default bound per key (lookup.py)

# (replicas, timeout in ms) for WAIT, or None: no waiting.
Replication = Optional[Tuple[int, int]]


def _tls_setting(value: Optional[str], env: str) -> Optional[str]:
    """The argument, else the environment's FORKPOOL_REDIS_TLS_*; "" is unset."""
    return value or os.environ.get(env) or None


def _tls_options(url: str, ca: Optional[str], cert: Optional[str], key: Optional[str],
                 server_name: Optional[str]) -> Dict[str, Any]:
    """redis-py's keyword arguments for the daemon's [redis] tls_* settings,
    with the same rules: only with rediss://, a certificate with its key."""
    ca = _tls_setting(ca, "FORKPOOL_REDIS_TLS_CA")
    cert = _tls_setting(cert, "FORKPOOL_REDIS_TLS_CERT")
    key = _tls_setting(key, "FORKPOOL_REDIS_TLS_KEY")
    server_name = _tls_setting(server_name, "FORKPOOL_REDIS_TLS_SERVER_NAME")
    tls = url.lower().startswith("rediss://")
    if not tls:
        if ca or cert or key or server_name:
            raise ValueError("tls_ca, tls_cert, tls_key and tls_server_name are only used "
                             "with TLS: write the URL as rediss://")
        return {}
    if bool(cert) != bool(key):
        raise ValueError("tls_cert and tls_key go together (a client certificate and its "
                         "private key)")
    if server_name:
        # redis-py (4.x) verifies and sends the host it connects to and has
        # no override: refuse rather than verify another name than asked.
        raise ValueError("tls_server_name is not supported by the Python client: connect by "
                         "the name in the server's certificate")
    # redis-py checks no host name unless asked: the daemon always does.
    return {"ssl_ca_certs": ca, "ssl_certfile": cert, "ssl_keyfile": key,
            "ssl_cert_reqs": "required", "ssl_check_hostname": True}


def _sqlite_path(url: Optional[str], sqlite: Optional[str]) -> Optional[str]:
    """The embedded queue's file, or None for Redis: sqlite=, a "sqlite:PATH"
    url (the form of `forkpool migrate --to sqlite:PATH`), else
    $FORKPOOL_SQLITE_PATH when neither url nor $FORKPOOL_REDIS_URL names a
    Redis."""
    if url is not None and url.startswith("sqlite:"):
        if sqlite is not None:
            raise ValueError("give url or sqlite, not both")
        sqlite = url[len("sqlite:"):]
    elif url is not None and sqlite is not None:
        raise ValueError("give url or sqlite, not both")
    elif url is None and sqlite is None and not os.environ.get("FORKPOOL_REDIS_URL"):
        sqlite = os.environ.get("FORKPOOL_SQLITE_PATH") or None
    if sqlite is not None and (not isinstance(sqlite, str) or not sqlite):
        raise ValueError("sqlite must be the queue file's path (sqlite.path)")
    return sqlite


class Client:
    """A producer for one forkpool deployment.

    url: a redis://, rediss:// (TLS) or unix:// URL, else $FORKPOOL_REDIS_URL,
    else redis://127.0.0.1:6379/0; or "sqlite:PATH", the same as sqlite=PATH.
    sqlite: the embedded queue's file (the daemon's sqlite.path), which must
    exist (the daemon or `forkpool enqueue` creates it): QueueFileError
    otherwise, and for a file that is not a forkpool queue file, which is
    left as it was. Without url and sqlite, $FORKPOOL_SQLITE_PATH is used
    when $FORKPOOL_REDIS_URL is not set. synchronous: "normal" or "full",
    the daemon's sqlite.synchronous for this client's commits. prefix,
    queue, group and max_job_bytes must match the daemon's redis.prefix, the
    queue it serves (queues.names), redis.group and limits.max_job_bytes;
    the defaults are the daemon's.
    tls_ca, tls_cert and tls_key (else $FORKPOOL_REDIS_TLS_CA, _CERT, _KEY)
    are the daemon's redis.tls_* for a rediss:// URL: the server's chain and
    its name (the URL's host) are verified, as the daemon does.
    """

    def __init__(self, url: Optional[str] = None, *, sqlite: Optional[str] = None,
                 synchronous: str = "normal", prefix: str = DEFAULT_PREFIX,
                 queue: str = DEFAULT_QUEUE, group: str = DEFAULT_GROUP,
                 max_job_bytes: int = DEFAULT_MAX_JOB_BYTES, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 tls_server_name: Optional[str] = None) -> None:
        if not isinstance(prefix, str) or not prefix or re.search(r"[{}\s]", prefix):
            raise ValueError("prefix must be non-empty, without '{', '}' or white space")
        if not isinstance(group, str) or not group:
            raise ValueError("group must be a non-empty string")
        if not _is_int(max_job_bytes) or max_job_bytes < 0:
            raise ValueError("max_job_bytes must be a whole number of bytes (0: no limit)")
        path = _sqlite_path(url, sqlite)
        self.prefix = prefix
        self.queue = check_queue(queue)
        self.group = group
        self.max_job_bytes = max_job_bytes
        # The embedded queue's file, or None on Redis.
        self.store: Optional[embedded.Store] = None
        self.redis: Any = None
        if path is not None:
            if tls_ca or tls_cert or tls_key or tls_server_name:
                raise ValueError("tls_ca, tls_cert, tls_key and tls_server_name are for "
                                 "Redis, not the embedded queue")
            self.store = embedded.Store(path, synchronous)
            self.url = "sqlite:" + self.store.path
        else:
            import redis  # type: ignore[import]  # Debian ships no stubs for it
            self.url = url or os.environ.get("FORKPOOL_REDIS_URL") or DEFAULT_URL
            tls = _tls_options(self.url, tls_ca, tls_cert, tls_key, tls_server_name)
            self.redis = redis.Redis.from_url(self.url, **tls)
        # Ids for delayed jobs that have none, as `forkpool enqueue --delay`
        # makes them: members of a sorted set are unique, so two identical
        # delayed jobs without ids would collapse into one.
        self._id_prefix = secrets.token_hex(8)
        self._next_id = itertools.count()

    def key(self, queue: str, kind: str) -> str:
        """P:{Q}:kind, as fp_queue_key writes it."""
        return "%s:{%s}:%s" % (self.prefix, queue, kind)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        else:
            self.redis.close()

    def _needs_redis(self, what: str, lacks: str) -> NeedsRedis:
        """The command line's refusal (fp_cli_needs_redis), for a client on
        the embedded queue."""
        assert self.store is not None
        return NeedsRedis("%s needs Redis (the embedded queue has no %s); the queue here is "
                          "the file %s" % (what, lacks, self.store.path))

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- enqueueing ----------------------------------------------------

    def _prepare(self, type: str, args: Any, queue: Optional[str], delay: Optional[Delay],
                 job_id: Union[str, int, None], max_attempts: Optional[int],
                 timeout: Any) -> Tuple[str, Optional[int], bytes, Optional[str]]:
        """(queue, delay in ms or None, payload, the id to return or None)."""
        q = self.queue if queue is None else check_queue(queue)
        ms = None if delay is None else delay_ms(delay)
        if ms is not None and job_id is None and self.store is None:
            # (Rows of the queue file never collapse: no id needed there.)
            job_id = "%s-%d" % (self._id_prefix, next(self._next_id))
        job = build_job(type, args, job_id, max_attempts, timeout)
        payload = encode_job(job, self.max_job_bytes)
        return q, ms, payload, None if job_id is None else str(job["id"])

    def enqueue(self, type: str, args: Any = None, queue: Optional[str] = None,
                delay: Optional[Delay] = None, job_id: Union[str, int, None] = None,
                max_attempts: Optional[int] = None, timeout: Any = None, *,
                wait_replicas: Optional[int] = None, wait_timeout: Optional[Delay] = None,
                unique: Optional[str] = None, unique_for: Optional[Delay] = None,
                unique_until: Optional[str] = None) -> str:
        """Adds one job; returns its id: job_id when given, the generated id
        of a delayed job, else the stream entry id (which the daemon uses as
        the job's id).

        args: any JSON value, passed to the handler untouched (None: no
        "args"). delay: seconds, a timedelta or a duration ("30s"); the job
        is due that long after now by Redis' clock. timeout: seconds, a
        timedelta or a duration; overrides pool.job_timeout for this job.
        max_attempts: 1..1000; overrides retry.max_attempts.

        wait_replicas: after adding, wait (Redis' WAIT) until that many
        replicas have the job, at most wait_timeout (seconds, a timedelta or
        a duration; default 1 s; refused without wait_replicas); fewer raises NotReplicated, whose ids say
        which jobs are on the master only (see docs/redis.md, "Replication").

        unique, unique_for, unique_until: see enqueue_unique. With unique,
        a duplicate adds nothing and the id returned is the job holding the
        key; use enqueue_unique to tell the two apart.

        On the embedded queue the id is job_id when given, else the row id
        (as `forkpool enqueue` prints it); the delay counts from now by this
        host's clock; unique keys live in the queue file; wait_replicas
        raises NeedsRedis."""
        if self.store is not None:
            self._refuse_redis_only(wait_replicas, wait_timeout)
        if unique is not None or unique_for is not None or unique_until is not None:
            return self.enqueue_unique(type, args, queue=queue, delay=delay, job_id=job_id,
                                       max_attempts=max_attempts, timeout=timeout,
                                       wait_replicas=wait_replicas, wait_timeout=wait_timeout,
                                       unique=unique, unique_for=unique_for,
                                       unique_until=unique_until)[0]
        wait = _replication(wait_replicas, wait_timeout)
        return self._send([self._prepare(type, args, queue, delay, job_id, max_attempts,
                                         timeout)], wait)[0]

    def enqueue_unique(self, type: str, args: Any = None, *, unique: Optional[str],
                       queue: Optional[str] = None, delay: Optional[Delay] = None,
                       job_id: Union[str, int, None] = None, max_attempts: Optional[int] = None,
                       timeout: Any = None, unique_for: Optional[Delay] = None,
                       unique_until: Optional[str] = None, wait_replicas: Optional[int] = None,
                       wait_timeout: Optional[Delay] = None) -> Tuple[str, bool]:
        """Adds the job unless another job of the same queue holds the
        unique key `unique`; returns (id, duplicate): the new job's id and
        False, or the holder's id and True (nothing was added). The key
        check, the key and the job are one script, as `forkpool enqueue
        --unique` runs it.

        The key is released when the job succeeds (unique_until="done", the
        default) or as soon as a child starts running it ("start"); always
        when it goes dead; at the latest after unique_for (seconds, a
        timedelta or a duration; default 24 hours after the job is due). A
        retry keeps it. The job gets an id when job_id is None; a given
        job_id must be a non-empty string or an integer (which becomes a
        string: the key holds the id as text); anything else is ValueError.
        wait_replicas, wait_timeout: as enqueue's, for an added job.

        On the embedded queue the key and the row are written to the file in
        one transaction, the key's TTL counted by this host's clock; the
        daemon on the file releases it as on Redis; wait_replicas raises
        NeedsRedis."""
        if self.store is not None:
            self._refuse_redis_only(wait_replicas, wait_timeout)
        q = self.queue if queue is None else check_queue(queue)
        ms = None if delay is None else delay_ms(delay)
        key, ttl_ms, until = _unique_options(unique, unique_for, unique_until, ms)
        wait = _replication(wait_replicas, wait_timeout)
        if job_id is None:
            job_id = "%s-%d" % (self._id_prefix, next(self._next_id))
        elif _is_int(job_id):
            job_id = str(job_id)
        elif not isinstance(job_id, str) or not job_id:
            # The key holds the id as text and the daemon refuses a unique
            # job without a non-empty string id: such a job would hold the
            # key for its whole TTL.
            raise ValueError("job_id of a unique job must be a non-empty string or an "
                             "integer, not %r" % (job_id,))
        job = build_job(type, args, job_id, max_attempts, timeout)
        job["unique"] = {"key": key, "until": until}
        payload = encode_job(job, self.max_job_bytes)
        if self.store is not None:
            return self.store.enqueue_unique(q, key, str(job["id"]), ttl_ms,
                                             payload.decode("utf-8"), ms or 0,
                                             embedded.now_ms())
        # One pipeline, so WAIT runs on the connection that wrote.
        pipe = self.redis.pipeline(transaction=False)
        pipe.eval(UNIQUE_ENQUEUE_SCRIPT, 3, self.key(q, "unique:" + key), self.key(q, "jobs"),
                  self.key(q, "delayed"), job["id"], ttl_ms, payload, -1 if ms is None else ms)
        if wait is not None:
            pipe.execute_command("WAIT", *wait)
        replies = pipe.execute()
        added, holder = replies[0][:2]
        if added and wait is not None:
            _check_replicated([_text(holder)], int(replies[-1]), wait)
        return _text(holder), not added

    def enqueue_many(self, jobs: Iterable[Mapping[str, Any]], *,
                     wait_replicas: Optional[int] = None,
                     wait_timeout: Optional[Delay] = None) -> List[str]:
        """Adds many jobs in pipelines of 1000 commands; each item takes
        enqueue's arguments by name ({"type": ..., "args": ..., "delay": ...}).
        Every job is checked before the first is sent, so bad input sends
        nothing. Returns the ids in order, as enqueue does. wait_replicas
        and wait_timeout as in enqueue, once for all the jobs. On the
        embedded queue all the jobs are added in one transaction."""
        if self.store is not None:
            self._refuse_redis_only(wait_replicas, wait_timeout)
        wait = _replication(wait_replicas, wait_timeout)
        names = {"type", "args", "queue", "delay", "job_id", "max_attempts", "timeout"}
        prepared = []
        for i, spec in enumerate(jobs):
            try:
                unknown = set(spec) - names
                if unknown & {"unique", "unique_for", "unique_until"}:
                    raise TypeError("unique jobs are added one at a time: use enqueue_unique")
                if unknown:
                    raise TypeError("unknown argument %s" % ", ".join(sorted(unknown)))
                if "type" not in spec:
                    raise TypeError("no type")
                prepared.append(self._prepare(spec["type"], spec.get("args"), spec.get("queue"),
                                              spec.get("delay"), spec.get("job_id"),
                                              spec.get("max_attempts"), spec.get("timeout")))
            except (TypeError, ValueError) as e:
                raise builtin_type(e)("job %d: %s" % (i, e)) from None
        return self._send(prepared, wait)

    def _refuse_redis_only(self, wait_replicas: Optional[int],
                           wait_timeout: Optional[Delay]) -> None:
        if wait_replicas is not None or wait_timeout is not None:
            raise self._needs_redis("enqueue(wait_replicas=)", "replicas")

    def _send(self, prepared: List[Tuple[str, Optional[int], bytes, Optional[str]]],
              wait: Replication = None) -> List[str]:
        if self.store is not None:
            rows = [(q, payload.decode("utf-8"), ms or 0) for q, ms, payload, _ in prepared]
            row_ids = self.store.enqueue(rows, embedded.now_ms())
            return [job_id if job_id is not None else str(row_id)
                    for (_, _, _, job_id), row_id in zip(prepared, row_ids)]
        now_ms = self._redis_now_ms() if any(p[1] is not None for p in prepared) else 0
        ids: List[str] = []
        for start in range(0, len(prepared), PIPELINE):
            chunk = prepared[start:start + PIPELINE]
            pipe = self.redis.pipeline(transaction=False)
            for q, ms, payload, _ in chunk:
                if ms is None:
                    pipe.xadd(self.key(q, "jobs"), {"job": payload})
                else:
                    pipe.zadd(self.key(q, "delayed"), {payload: now_ms + ms})
            last = start + PIPELINE >= len(prepared)
            if last and wait is not None:
                # In the last pipeline, so on the connection that wrote: WAIT
                # waits for that client's last write, and the replication
                # offset only grows, so the earlier pipelines are covered too.
                pipe.execute_command("WAIT", *wait)
            replies = pipe.execute()
            for (_, ms, _, job_id), reply in zip(chunk, replies):
                ids.append(job_id if job_id is not None else _text(reply))
            if last and wait is not None:
                _check_replicated(ids, int(replies[-1]), wait)
        return ids

    def _redis_now_ms(self) -> int:
        """Redis' clock: every daemon's mover reads due times against it, so
        a producer whose own clock is off must not set them."""
        sec, usec = self.redis.time()
        return int(sec) * 1000 + int(usec) // 1000

    # ---- reading -------------------------------------------------------

    def job(self, id: Union[str, int], queue: Optional[str] = None,
            scan: int = JOB_SCAN) -> Optional[Dict[str, Any]]:
        """Where a job is now, from Redis, or None when it is not there.

        id: the job's "id" (given at enqueue, or generated for a delayed
        job) or its stream entry id (what enqueue returns for a job without
        one). The answer has "state", "queue", "entry_id" and "job" (the
        payload, parsed), and by state:
          "ready":   in the stream, not delivered yet;
          "running": delivered and not finished: "consumer" (the daemon's
                     name), "deliveries", "idle_ms" (since its last claim or
                     renewal);
          "delayed": in the delayed set (a delay or a retry's back-off):
                     "due_ms", Unix ms by Redis' clock;
          "dead":    in the dead stream: "dead_id", "error", "attempts",
                     "failed_at", "consumer", as dead() gives them (found
                     by the payload's id only: a dead job without one is
                     not found by its old entry id unless it was retried).
        Done jobs are not kept in Redis (success deletes the entry): None;
        the daemon's ledger has them. One script reads all three keys at
        once, so a job moving between them is seen once. An entry id is
        found at once; a payload id is looked for among the first `scan`
        entries of each key (see forkpool/lookup.py for the cost).

        On the embedded queue, as `forkpool job` reads the file: id is a row
        id or the payload's "id" (indexed by neither: a scan of the queue's
        rows; scan is not used), "entry_id" is the row id, a running job's
        idle_ms is reckoned from its lease with the default
        recovery.visibility_timeout, and a dead row is found by the
        payload's "id"."""
        q = self.queue if queue is None else check_queue(queue)
        if isinstance(id, bool) or not isinstance(id, (str, int)) or id == "":
            raise ValueError("id must be a non-empty string or an integer")
        if not _is_int(scan) or scan < 1:
            raise ValueError("scan must be a whole number of at least 1")
        if self.store is not None:
            return self._job_embedded(q, str(id))
        reply = self.redis.eval(JOB_SCRIPT, 3, self.key(q, "jobs"), self.key(q, "delayed"),
                                self.key(q, "dead"), self.group, str(id), scan)
        return job_state(q, reply, _dead_entry)

    def stats(self, queues: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        """A snapshot of each queue (default: this client's queue), shaped as
        `forkpool stats --json`: {"backend", "group", "prefix", "now_ms",
        "queues": [{"name", "ready", "ready_exact", "pending", "delayed",
        "dead", "length", "group_exists", "oldest_ready_id",
        "oldest_ready_age_ms", "consumers": [{"name", "pending",
        "idle_ms"}]}]}. One script per queue, the daemon's own
        (lib/queue/queue_stats.c), so its numbers agree with each other and
        with `forkpool stats`. Reads only. The CLI's "fleet" member (the
        daemons on this Redis) is not included.

        On the embedded queue ("backend": "sqlite", and "path": the file),
        one read transaction per queue, the CLI's reads: pending is the rows
        leased to a daemon, length ready + pending, and a consumer's idle_ms
        is reckoned from its latest lease with the default
        recovery.visibility_timeout (60 s)."""
        names = [self.queue] if queues is None else [check_queue(q) for q in queues]
        out: List[Dict[str, Any]] = []
        if self.store is not None:
            now_ms = embedded.now_ms()
            return {"backend": "sqlite", "path": self.store.path, "group": self.group,
                    "prefix": self.prefix, "now_ms": now_ms,
                    "queues": [self.store.queue_stats(q, now_ms) for q in names]}
        now_ms = 0
        for q in names:
            r = self.redis.eval(STATS_SCRIPT, 3, self.key(q, "jobs"), self.key(q, "delayed"),
                                self.key(q, "dead"), self.group, READY_COUNT_MAX,
                                STATS_PAGE)
            # The last two (entries added and read, for the status page's
            # rates) are not part of this view.
            ready, exact, pending, delayed, dead, length, found, oldest, now_ms, consumers = r[:10]
            oldest_id = _text(oldest)
            age = None
            if oldest_id:
                age = max(0, int(now_ms) - int(oldest_id.split("-")[0]))
            out.append({"name": q, "ready": ready, "ready_exact": bool(exact),
                        "pending": pending, "delayed": delayed, "dead": dead,
                        "length": length, "group_exists": bool(found),
                        "oldest_ready_id": oldest_id or None, "oldest_ready_age_ms": age,
                        "consumers": [{"name": _text(c[0]), "pending": c[1], "idle_ms": c[2]}
                                      for c in consumers]})
        return {"backend": "redis", "group": self.group, "prefix": self.prefix, "now_ms": now_ms,
                "queues": out}

    def _job_embedded(self, q: str, id: str) -> Optional[Dict[str, Any]]:
        """job() on the embedded queue, as `forkpool job` reads the file
        (fp_sqlq_find): a row id or the payload's id; a dead row by the
        payload's id."""
        assert self.store is not None
        now_ms = embedded.now_ms()
        kind, row = self.store.find(q, id)
        if row is None:
            return None
        if kind == "dead":
            dead_id, payload, consumer, error, attempts, failed_at = row
            return {"state": "dead", "queue": q, "entry_id": None, "dead_id": str(dead_id),
                    "job": parse_payload(payload), "error": error, "attempts": attempts,
                    "failed_at": failed_at, "consumer": consumer}
        row_id, payload, owner, avail_at, deliveries = row
        out: Dict[str, Any] = {"state": "ready", "queue": q, "entry_id": str(row_id),
                               "job": parse_payload(payload)}
        if owner is not None:
            # A leased row's avail_at is its lease's end (docs/embedded.md).
            since = avail_at - embedded.DEFAULT_VISIBILITY_TIMEOUT_MS
            out.update({"state": "running", "consumer": owner, "deliveries": deliveries,
                        "idle_ms": max(0, now_ms - since)})
        elif avail_at > now_ms:
            out.update({"state": "delayed", "due_ms": avail_at})
        return out

    def dead(self, queue: Optional[str] = None, limit: int = 100) -> List[Dict[str, Any]]:
        """Up to limit entries of the dead stream P:{Q}:dead, oldest first,
        shaped as `forkpool dead list --json`: {"id", "queue", "job" (the
        payload, parsed when it is JSON, else its text), "error", "attempts",
        "failed_at" (Unix ms), "consumer"}; a field the entry lacks is None.
        On the embedded queue: the dead rows, "id" being the row id, as
        `forkpool dead list --json` shows them."""
        q = self.queue if queue is None else check_queue(queue)
        if not _is_int(limit) or limit < 1:
            raise ValueError("limit must be a whole number of at least 1")
        if self.store is not None:
            return [{"id": str(row_id), "queue": q, "job": parse_payload(payload),
                     "error": error, "attempts": attempts, "failed_at": failed_at,
                     "consumer": consumer}
                    for row_id, payload, error, consumer, attempts, failed_at
                    in self.store.dead_rows(q, limit)]
        entries = self.redis.xrange(self.key(q, "dead"), "-", "+", count=limit)
        return [_dead_entry(q, entry_id, fields) for entry_id, fields in entries]


def _replication(replicas: Optional[int], timeout: Optional[Delay]) -> Replication:
    """wait_replicas and wait_timeout checked before anything is sent;
    wait_timeout alone is refused, as the CLI refuses --wait-timeout alone
    (it would wait for nothing)."""
    if replicas is None:
        if timeout is not None:
            raise ValueError("wait_timeout needs wait_replicas")
        return None
    if timeout is None:
        timeout = WAIT_TIMEOUT
    if not _is_int(replicas) or replicas < 1:
        raise ValueError("wait_replicas must be a whole number of at least 1")
    if isinstance(timeout, str):
        ms = parse_duration_ms(timeout)
    else:
        ms = round(_seconds(timeout, "wait_timeout") * 1000)
    if ms <= 0:
        # WAIT 0 would block for ever: never what a producer means.
        raise ValueError("wait_timeout must be more than 0")
    return replicas, ms


def _check_replicated(ids: List[str], acked: int, wait: Tuple[int, int]) -> None:
    if acked < wait[0]:
        raise NotReplicated(ids, acked, wait[0], wait[1])


def _unique_options(unique: Any, unique_for: Optional[Delay], unique_until: Any,
                    due_ms: Optional[int]) -> Tuple[str, int, str]:
    """(key, ttl_ms, until), checked as `forkpool enqueue` and fp_job_parse
    check them."""
    if not isinstance(unique, str) or not unique:
        raise ValueError("unique must be a non-empty string (unique_for and unique_until "
                         "need it)")
    if len(unique.encode("utf-8", "surrogatepass")) > UNIQUE_KEY_MAX:
        raise ValueError("unique is longer than %d bytes" % UNIQUE_KEY_MAX)
    until = "done" if unique_until is None else unique_until
    if until not in ("done", "start"):
        raise ValueError("unique_until must be \"done\" or \"start\", not %r" % (unique_until,))
    if unique_for is None:
        ttl_ms = UNIQUE_TTL_DEFAULT_MS + (due_ms or 0)
    else:
        ttl_ms = delay_ms(unique_for)
        if ttl_ms <= 0:
            raise ValueError("unique_for must be more than 0")
    return unique, ttl_ms, until



def _dead_entry(queue: str, entry_id: bytes, fields: Mapping[bytes, bytes]) -> Dict[str, Any]:
    def text(name: str) -> Optional[str]:
        v = fields.get(name.encode())
        return None if v is None else _text(v)

    def number(name: str) -> Union[int, str, None]:
        v = text(name)
        return int(v) if v is not None and re.fullmatch(r"-?\d{1,18}", v) else v

    raw = fields.get(b"job")
    job = None if raw is None else parse_payload(raw)
    return {"id": _text(entry_id), "queue": queue, "job": job, "error": text("error"),
            "attempts": number("attempts"), "failed_at": number("failed_at"),
            "consumer": text("consumer")}


# lib/queue/unique.h and lib/dispatch/job.h: FP_UNIQUE_TTL_DEFAULT_MS,
# FP_UNIQUE_KEY_MAX.
UNIQUE_TTL_DEFAULT_MS = 24 * 3600 * 1000
UNIQUE_KEY_MAX = 512

# A copy of fp_script_unique_enqueue (lib/queue/unique.c), which documents
# it; python/tests/test_client.py checks that the two are the same text.
UNIQUE_ENQUEUE_SCRIPT = (
    "local held = redis.call('GET', KEYS[1])\n"
    "if held then return {0, held} end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "local delay = tonumber(ARGV[4])\n"
    "if delay >= 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "  redis.call('ZADD', KEYS[3], now + delay, ARGV[3])\n"
    "  return {1, ARGV[1]}\n"
    "end\n"
    "return {1, ARGV[1], redis.call('XADD', KEYS[2], '*', 'job', ARGV[3])}\n"
)

# lib/queue/queue_stats.h: FP_ADMIN_READY_COUNT_MAX, FP_QUEUE_STATS_PAGE.
READY_COUNT_MAX = 10000
STATS_PAGE = 100

# A copy of fp_queue_stats_script (lib/queue/queue_stats.c), which documents
# it; python/tests/test_client.py checks that the two are the same text.
STATS_SCRIPT = (
    "local jobs, delayed, dead = KEYS[1], KEYS[2], KEYS[3]\n"
    "local group, cap, page = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ndelayed = redis.call('ZCARD', delayed)\n"
    "local ndead = redis.call('XLEN', dead)\n"
    "local len = redis.call('XLEN', jobs)\n"
    "local ready, exact, pending, found, after, consumers = len, 1, 0, 0, '-', {}\n"
    "local added, read = 0, 0\n"
    "if redis.call('EXISTS', jobs) == 1 then\n"
    "  added = -1\n"
    "  local info = redis.call('XINFO', 'STREAM', jobs)\n"
    "  for k = 1, #info, 2 do if info[k] == 'entries-added' then added = info[k + 1] end end\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do\n"
    "    local f = {}\n"
    "    for k = 1, #g, 2 do f[g[k]] = g[k + 1] end\n"
    "    if f['name'] == group then\n"
    "      found, pending, after = 1, f['pending'], '(' .. f['last-delivered-id']\n"
    "      read = -1\n"
    "      if type(f['entries-read']) == 'number' then read = f['entries-read']\n"
    "      elseif added >= 0 and type(f['lag']) == 'number' then read = added - f['lag'] end\n"
    "      if f['lag'] then\n"
    "        ready = f['lag']\n"
    "      else\n"
    "        ready, exact = 0, 0\n"
    "        local start = after\n"
    "        while ready < cap do\n"
    "          local got = redis.call('XRANGE', jobs, start, '+', 'COUNT', page)\n"
    "          ready = ready + #got\n"
    "          if #got < page then exact = 1 break end\n"
    "          start = '(' .. got[#got][1]\n"
    "        end\n"
    "        if exact == 0 then ready = math.max(ready, len - pending) end\n"
    "      end\n"
    "      for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', jobs, group)) do\n"
    "        local h = {}\n"
    "        for k = 1, #c, 2 do h[c[k]] = c[k + 1] end\n"
    "        consumers[#consumers + 1] = {h['name'], h['pending'], h['idle']}\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local oldest = ''\n"
    "if ready > 0 then\n"
    "  local first = redis.call('XRANGE', jobs, after, '+', 'COUNT', 1)\n"
    "  if #first > 0 then oldest = first[1][1] end\n"
    "end\n"
    "return {ready, exact, pending, ndelayed, ndead, len, found, oldest, now, consumers, added, read}\n"
)
