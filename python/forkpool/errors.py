"""forkpool.errors: exceptions a producer may want to catch by name. Standard
library only, so `from forkpool import NotReplicated` never needs redis.
"""
from typing import List

__all__ = ["NotReplicated", "QueueFileError", "NeedsRedis"]


class NotReplicated(Exception):
    """Raised by enqueue (wait_replicas=N) when fewer than N replicas
    acknowledged the write within wait_timeout.

    The jobs ARE in Redis: the master accepted them and will run them. But
    Redis replicates asynchronously, so if the master fails before a replica
    has them, a failover to that replica loses them. Retrying the enqueue
    could add the same jobs twice; give them a job_id the handler treats as
    idempotent if you retry.

    ids: the ids enqueue returned (or would have); acked: how many replicas
    acknowledged; wanted: wait_replicas."""

    def __init__(self, ids: List[str], acked: int, wanted: int, timeout_ms: int) -> None:
        self.ids = list(ids)
        self.acked = acked
        self.wanted = wanted
        self.timeout_ms = timeout_ms
        shown = ", ".join(self.ids[:3]) + (", ..." if len(self.ids) > 3 else "")
        super().__init__(
            "%d job(s) enqueued (%s) but only %d of %d replicas acknowledged them within "
            "%d ms: they are on the master and may be lost if it fails over"
            % (len(self.ids), shown, acked, wanted, timeout_ms))


class QueueFileError(Exception):
    """Raised by Client(sqlite=PATH) when PATH is not an embedded queue it
    may write to: missing, empty, not an SQLite database, another
    application's database, truncated, or written by a newer forkpool. The
    file is left exactly as it was. path: the file."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class NeedsRedis(ValueError):
    """Raised by an embedded-queue Client for what only Redis has (unique
    keys, replicas), with the command line's wording; nothing is added."""
