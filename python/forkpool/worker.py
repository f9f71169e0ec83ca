"""forkpool.worker: serve forkpool jobs from Python (pool.runtime = "exec").

    from forkpool import handler, run, Permanent

    MODEL = load_model()            # import-time set-up: once per child

    @handler("resize")
    def resize(args):               # args: the job's "args" object
        return {"width": args["w"]} # any JSON-able value becomes the result

    @handler("fetch")
    async def fetch(args):          # async handlers run on the child's event loop
        ...

    run()

or, without a run() of your own, `python3 -m forkpool.worker myapp` imports the
module `myapp` (which registers its handlers and tasks) and serves it.

forkpool starts the program once per child with the dispatch socket on the
fd named by FORKPOOL_FD and reuses it for many jobs. A handler that raises
fails the attempt and the job is retried under [retry], and so does one whose
result JSON cannot carry (NaN, Infinity, a set: "ValueError: ..." or
"TypeError: ..."); raising Permanent fails it for good; a job type with no
handler fails for good.

Jobs run one at a time, in the order they arrive, also for async handlers:
docs/protocol.md requires every answer in arrival order, times a job only
from when the one before it finished, and hands the jobs queued behind a
dead child to others without counting an attempt; jobs run side by side in
one child would break all three, so there is no concurrency option.

Standard library only: a worker needs no Redis client. See docs/protocol.md
for the protocol.
"""
import asyncio
import importlib
import inspect
import json
import os
import sys
from typing import Any, Awaitable, Callable, Dict, List, Optional, TypeVar, cast

from . import log as _log

__all__ = ["handler", "run", "Permanent", "main"]

F = TypeVar("F", bound=Callable[..., Any])

_handlers: Dict[str, Callable[[Any], Any]] = {}

# One event loop per child, made at the first async job and kept for the
# child's life, so that what a handler opens on it (an HTTP session, a pool of
# connections) can serve the next job too.
_loop: Optional[asyncio.AbstractEventLoop] = None


class Permanent(Exception):
    """Raise from a handler to fail the job without a retry."""


def handler(name: str) -> Callable[[F], F]:
    """Decorator: the function serves jobs whose "type" is name. It is called
    with the job's "args" and may be a plain or an async function."""
    if not isinstance(name, str) or not name:
        raise ValueError("a handler name must be a non-empty string")

    def register(fn: F) -> F:
        _handlers[name] = fn
        return fn
    return register


def _dumps(value: Any) -> str:
    """JSON text; NaN and Infinity, which JSON has no words for and the daemon
    would refuse as a protocol error, raise ValueError instead."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _send(fd: int, msg: Dict[str, Any]) -> None:
    data = (_dumps(msg) + "\n").encode()
    while data:  # a socket may take part of a long line: write the rest
        data = data[os.write(fd, data):]


def _await(awaitable: Awaitable[Any]) -> Any:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop.run_until_complete(awaitable)


def _close_loop() -> None:
    global _loop
    if _loop is not None:
        try:
            _loop.run_until_complete(_loop.shutdown_asyncgens())
        finally:
            _loop.close()
            _loop = None


def _answer(seq: int, job: Dict[str, Any]) -> Dict[str, Any]:
    """The "done" message for one job; what it logs carries the job's
    fields (forkpool.log)."""
    with _log.job_context(seq, job):
        return _run_job(seq, job)


def _run_job(seq: int, job: Dict[str, Any]) -> Dict[str, Any]:
    fn = _handlers.get(job.get("type"))  # type: ignore[arg-type]
    done: Dict[str, Any]
    try:
        if fn is None:
            raise Permanent("no handler for job type %r" % job.get("type"))
        result = fn(job.get("args", {}))
        if inspect.isawaitable(result):
            result = _await(result)
        _dumps(result)  # a result that is not JSON (a set, NaN) fails here, in the handler's name
        done = {"op": "done", "seq": seq, "ok": True, "result": result}
    except Permanent as e:
        done = {"op": "done", "seq": seq, "ok": False, "error": str(e) or "failed", "retry": False}
    except Exception as e:  # noqa: BLE001 - any failure is the job's outcome
        done = {"op": "done", "seq": seq, "ok": False, "retry": True,
                "error": "%s: %s" % (type(e).__name__, e)}
    done["rss_kb"] = _rss_kb()
    return done


def _rss_kb() -> int:
    """Current resident set size in kB, from /proc/self/statm (pages). The
    peak (ru_maxrss) would keep a worker over max_memory_per_child for ever
    after one large job, however much it gave back; 0 when unreadable."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def run() -> None:
    """Says ready, then serves jobs until "stop" or EOF; exits 0."""
    fd = int(os.environ["FORKPOOL_FD"])
    for stream in (sys.stdout, sys.stderr):  # prints reach the log line by line
        cast(Any, stream).reconfigure(line_buffering=True)
    _log.configure()  # after the app's imports: one that set up logging keeps it
    _send(fd, {"op": "ready", "pid": os.getpid()})
    with os.fdopen(fd, "rb", closefd=False) as channel:
        for line in channel:
            msg = json.loads(line)
            if msg.get("op") == "stop":
                break
            if msg.get("op") == "job":
                _send(fd, _answer(msg["seq"], msg.get("job", {})))
    _close_loop()
    sys.exit(0)


def main(argv: List[str]) -> None:
    """`python3 -m forkpool.worker MODULE...`: import each module (they
    register handlers and tasks as they load), then serve."""
    if not argv or any(m.startswith("-") for m in argv):
        sys.stderr.write("usage: python3 -m forkpool.worker MODULE [MODULE...]\n")
        sys.exit(64)
    for name in argv:
        importlib.import_module(name)
    run()


if __name__ == "__main__":
    # Under `-m` this file runs as __main__, a second copy of the module: the
    # handlers the app registers land in the real forkpool.worker, so serve
    # from that one.
    from forkpool import worker as _worker
    _worker.main(sys.argv[1:])
