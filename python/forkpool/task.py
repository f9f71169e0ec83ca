"""forkpool.task: Celery-style tasks. One decorated function is both the
producer's and the worker's end:

    @task(queue="default", max_attempts=5)
    def add(x, y):
        return x + y

    add.delay(2, 3)                                  # enqueue: a job of type "myapp.add"
    add.apply_async((2, 3), countdown=60)            # the same, due in a minute
    add(2, 3)                                        # a plain call, here and now

The job is {"type": "<module>.<name>", "args": {"args": [2, 3], "kwargs": {}}};
the function is also registered as the handler of that type, so a worker that
imports the module (`python3 -m forkpool.worker myapp`) serves it. async
functions work as handlers do. Enqueueing to Redis needs the redis package;
the embedded queue (Client(sqlite=PATH)) and serving do not.
"""
import datetime
import functools
from typing import Any, Callable, Dict, Generic, Mapping, Optional, Sequence, TypeVar, Union, cast

from .jobs import build_job, check_queue, delay_ms
from .worker import Permanent, handler

__all__ = ["Task", "task"]

R = TypeVar("R")

# The Client shared by tasks given none, made at the first enqueue (so that
# a worker, which only serves, never imports redis).
_default_client: Any = None


def _client() -> Any:
    global _default_client
    if _default_client is None:
        from .client import Client
        _default_client = Client()
    return _default_client


class Task(Generic[R]):
    """A function that can also be enqueued; see the module's doc."""

    def __init__(self, fn: Callable[..., R], name: str, queue: Optional[str],
                 max_attempts: Optional[int], timeout: Any, client: Any) -> None:
        # Checked now, as the daemon would check the job: a bad option is a
        # mistake at import, not at the first .delay().
        build_job(name, None, None, max_attempts, timeout)
        self.fn = fn
        self.name = name
        self.queue = None if queue is None else check_queue(queue)
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.client = client
        functools.update_wrapper(self, fn)
        handler(name)(self._serve)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.fn(*args, **kwargs)

    def _serve(self, job_args: Any) -> Any:
        if not isinstance(job_args, dict):
            raise Permanent("task %s: args must be {\"args\": [...], \"kwargs\": {...}}" % self.name)
        args, kwargs = job_args.get("args", []), job_args.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise Permanent("task %s: args must be {\"args\": [...], \"kwargs\": {...}}" % self.name)
        return self.fn(*args, **kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> str:
        """Enqueues fn(*args, **kwargs) to run now; returns the job id."""
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Optional[Sequence[Any]] = None,
                    kwargs: Optional[Mapping[str, Any]] = None,
                    countdown: Union[int, float, datetime.timedelta, None] = None,
                    eta: Optional[datetime.datetime] = None, *,
                    wait_replicas: Optional[int] = None, wait_timeout: Any = None) -> str:
        """Enqueues fn(*args, **kwargs); returns the job id. countdown:
        seconds (or a timedelta) from now; eta: a datetime (naive means local
        time), run at once if already past. Due times count on Redis' clock
        (the embedded queue: this host's) from the moment of the call. wait_replicas, wait_timeout: as
        Client.enqueue's (NotReplicated when too few replicas have it)."""
        if countdown is not None and eta is not None:
            raise ValueError("give countdown or eta, not both")
        delay: Optional[Union[int, float, datetime.timedelta]] = countdown
        if eta is not None:
            if not isinstance(eta, datetime.datetime):
                raise TypeError("eta must be a datetime")
            now = datetime.datetime.now(eta.tzinfo) if eta.tzinfo else datetime.datetime.now()
            delay = max(0.0, (eta - now).total_seconds())
        if delay is not None:
            delay_ms(delay)  # a negative countdown is refused as a negative delay is
        if args is None:
            args = ()
        if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
            raise TypeError("args must be a list or a tuple")
        kw = dict(kwargs or {})
        if not all(isinstance(k, str) for k in kw):
            raise TypeError("kwargs keys must be strings")  # JSON would turn 1 into "1"
        job_args: Dict[str, Any] = {"args": list(args), "kwargs": kw}
        client = self.client if self.client is not None else _client()
        durability = _durability(wait_replicas, wait_timeout)
        return cast(str, client.enqueue(self.name, job_args, queue=self.queue, delay=delay,
                                        max_attempts=self.max_attempts, timeout=self.timeout,
                                        **durability))


def _durability(wait_replicas: Optional[int], wait_timeout: Any) -> Dict[str, Any]:
    """enqueue's keyword arguments for them: only those given, so that a
    Client's own default timeout applies when wait_timeout is not."""
    out: Dict[str, Any] = {}
    if wait_replicas is not None:
        out["wait_replicas"] = wait_replicas
    if wait_timeout is not None:
        out["wait_timeout"] = wait_timeout
    return out


def task(fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
         queue: Optional[str] = None, max_attempts: Optional[int] = None,
         timeout: Any = None, client: Any = None) -> Any:
    """Decorator, bare (@task) or with options (@task(queue=..., ...)).

    name: the job type, default "<module>.<function>" (a function of a
    script run as __main__ needs one: the worker imports it under its module
    name). queue: default the client's. max_attempts, timeout: put into
    every job, as enqueue takes them. client: the Client to enqueue with;
    default one Client() shared by all tasks (FORKPOOL_REDIS_URL, else
    FORKPOOL_SQLITE_PATH: the embedded queue)."""
    def wrap(f: Callable[..., Any]) -> Task[Any]:
        type_name = name
        if type_name is None:
            if f.__module__ == "__main__":
                raise ValueError("task %s is defined in __main__: give it a name "
                                 "(@task(name=...)) that the worker will register too"
                                 % f.__qualname__)
            type_name = "%s.%s" % (f.__module__, f.__qualname__)
        return Task(f, type_name, queue, max_attempts, timeout, client)
    return wrap(fn) if fn is not None else wrap
