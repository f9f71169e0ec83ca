"""forkpool for Python: enqueue jobs (Client, task) and serve them (handler,
run, task) from a forkpool exec worker.

    from forkpool import Client, task, handler, run, Permanent, NotReplicated

The worker side (handler, run, Permanent, task's serving half) is standard
library only; Client on Redis needs the redis package (Debian's
python3-redis), imported on first use, so a worker that only serves, or a
producer on the embedded queue (Client(sqlite=PATH)), never needs it.
"""
from typing import TYPE_CHECKING, Any

from .errors import NeedsRedis, NotReplicated, QueueFileError
from .task import Task, task
from .worker import Cancelled, Permanent, handler, run

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Client", "Task", "task", "handler", "run", "Permanent", "Cancelled", "NotReplicated",
           "QueueFileError", "NeedsRedis"]


def __getattr__(name: str) -> Any:
    # PEP 562: Client (and with it redis) is imported only when asked for.
    if name == "Client":
        from .client import Client
        return Client
    raise AttributeError("module 'forkpool' has no attribute %r" % name)
