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

By default jobs run one at a time, in the order they arrive, also for async
handlers. run(concurrency=N) (or `python3 -m forkpool.worker myapp
--concurrency N`, or FORKPOOL_CONCURRENCY=N) announces N in "ready": the
daemon then sends up to N jobs at once, and async handlers run side by side
as tasks on the child's event loop, each answered as it ends. Sync handlers
still run one at a time, in arrival order, on the loop's thread: while one
runs, the async jobs beside it wait (their deadlines keep running), so give
a concurrent worker async handlers. See docs/protocol.md for what the daemon
does with each running job on a timeout or a crash.

Standard library only: a worker needs no Redis client. See docs/protocol.md
for the protocol.
"""
import asyncio
import importlib
import inspect
import json
import os
import signal
import socket
import sys
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple, TypeVar, Union, cast

from . import log as _log

__all__ = ["handler", "run", "Permanent", "Cancelled", "main"]

# docs/protocol.md: "concurrency" in "ready" is a whole number 1..1024.
CONCURRENCY_MAX = 1024

F = TypeVar("F", bound=Callable[..., Any])

_handlers: Dict[str, Callable[[Any], Any]] = {}

# One event loop per child, made at the first async job and kept for the
# child's life, so that what a handler opens on it (an HTTP session, a pool of
# connections) can serve the next job too.
_loop: Optional[asyncio.AbstractEventLoop] = None


class Permanent(Exception):
    """Raise from a handler to fail the job without a retry."""


class Cancelled(BaseException):
    """Raised in a sync handler (and an async one under concurrency 1) when
    `forkpool cancel` stops its job: the daemon sends the SIGTERM that ends
    a cancelled job after pool.kill_grace, and the worker's SIGTERM handler
    raises this instead of dying when the daemon's "cancel" line for the
    running job is waiting on the channel. A BaseException, like
    asyncio.CancelledError, so that `except Exception` does not swallow it;
    catch it to clean up. The job ends dead with the error "cancelled"
    whatever the handler does, and the worker exits after its answer."""


# The job the in-order loop runs (its seq), and the async task running it,
# for the SIGTERM handler; and whether a cancel stopped it (the worker then
# exits after answering: the daemon is ending it).
_running: Dict[str, Any] = {"seq": None, "task": None, "cancelled": False}


class _Lines:
    """The in-order loop's lines from the channel, read by hand rather than
    through a buffered file, so that what was read ahead of the current job
    (a "cancel" line that came with it) stays visible to the cancel checks.
    Lines are taken by offset, and the cancel check looks at what is ahead
    only when a read brought the word: with jobs sent ahead, slicing or
    scanning the whole buffer for every job cost more than a noop job."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""  # read from the socket; lines before pos are taken
        self.pos = 0
        self.cancel_seen = False  # a read since the buffer was last empty had "cancel"

    def next(self) -> Optional[bytes]:
        """The next line without its newline; None at EOF."""
        end = self.buf.find(b"\n", self.pos)
        while end < 0:
            data = os.read(self.fd, 1 << 16)
            if not data:
                rest = self.buf[self.pos:]
                self.buf, self.pos = b"", 0
                return rest or None
            self.buf = self.buf[self.pos:] + data
            self.pos = 0
            self.cancel_seen = self.cancel_seen or b'"cancel"' in self.buf
            end = self.buf.find(b"\n")
        line = self.buf[self.pos:end]
        self.pos = end + 1
        if self.pos == len(self.buf):
            self.buf, self.pos, self.cancel_seen = b"", 0, False
        return line

    def unread(self) -> bytes:
        """What was read and not yet taken as lines."""
        return self.buf[self.pos:]

    def ahead(self) -> bytes:
        """unread() when it may hold a whole "cancel" line; b"" otherwise
        (the check before every job)."""
        return self.unread() if self.cancel_seen else b""


def _has_cancel(data: bytes, seq: Optional[int]) -> bool:
    """Whether data holds the daemon's "cancel" line for job seq (parsed
    only when the word is there: this runs before every job)."""
    if seq is None or b'"cancel"' not in data:
        return False
    for line in data.split(b"\n"):
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("op") == "cancel" and msg.get("seq") == seq:
            return True
    return False


def _cancel_waiting(lines: _Lines, seq: Optional[int]) -> bool:
    """Whether the daemon's "cancel" line for job seq waits unread: already
    read ahead, or on the channel (peeked, left there). The in-order loop
    reads no line while a job runs."""
    try:
        with socket.socket(fileno=os.dup(lines.fd)) as sock:
            data = sock.recv(1 << 16, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        data = b""
    return _has_cancel(lines.unread() + data, seq)


def _install_cancel_on_term(lines: _Lines) -> None:
    """SIGTERM while a cancelled job runs (in order) stops that job: a sync
    handler sees Cancelled, an async one asyncio.CancelledError. Any other
    SIGTERM (a timeout, a shutdown) ends the process as before."""
    def on_term(signum: int, frame: Any) -> None:
        if _running["cancelled"] or not _cancel_waiting(lines, _running["seq"]):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        _running["cancelled"] = True
        task = _running["task"]
        if task is not None and _loop is not None:
            _loop.call_soon_threadsafe(task.cancel)
            return
        raise Cancelled("the job was cancelled")
    signal.signal(signal.SIGTERM, on_term)


def _cancelled(seq: int) -> Dict[str, Any]:
    """The answer for a job a cancel stopped: failed, never retried (the
    daemon records it as cancelled)."""
    return {"op": "done", "seq": seq, "ok": False, "error": "cancelled", "retry": False,
            "rss_kb": _rss_kb()}


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
    task = asyncio.ensure_future(awaitable, loop=_loop)
    _running["task"] = task
    try:
        return _loop.run_until_complete(task)
    finally:
        _running["task"] = None


def _close_loop() -> None:
    global _loop
    if _loop is not None:
        try:
            _loop.run_until_complete(_loop.shutdown_asyncgens())
        finally:
            _loop.close()
            _loop = None


def _start(job: Dict[str, Any]) -> Any:
    """Calls the job's handler: its result, or an awaitable for an async one."""
    fn = _handlers.get(job.get("type"))  # type: ignore[arg-type]
    if fn is None:
        raise Permanent("no handler for job type %r" % job.get("type"))
    return fn(job.get("args", {}))


def _ok(seq: int, result: Any) -> Dict[str, Any]:
    if result is not None:  # a result that is not JSON (a set, NaN) fails here, in the handler's name
        _dumps(result)
    return {"op": "done", "seq": seq, "ok": True, "result": result, "rss_kb": _rss_kb()}


def _failed(seq: int, e: Exception) -> Dict[str, Any]:
    if isinstance(e, Permanent):
        return {"op": "done", "seq": seq, "ok": False, "error": str(e) or "failed",
                "retry": False, "rss_kb": _rss_kb()}
    return {"op": "done", "seq": seq, "ok": False, "retry": True,
            "error": "%s: %s" % (type(e).__name__, e), "rss_kb": _rss_kb()}


def _answer(seq: int, job: Dict[str, Any]) -> Dict[str, Any]:
    """The "done" message for one job, run to its end; what it logs carries
    the job's fields (forkpool.log)."""
    with _log.job_context(seq, job):
        try:
            result = _start(job)
            if inspect.isawaitable(result):
                result = _await(result)
            return _ok(seq, result)
        except (Cancelled, asyncio.CancelledError):
            if not _running["cancelled"]:
                raise
            return _cancelled(seq)
        except Exception as e:  # noqa: BLE001 - any failure is the job's outcome
            return _failed(seq, e)


async def _answer_async(seq: int, job: Dict[str, Any]) -> Dict[str, Any]:
    """The same inside the event loop: an async handler is awaited, so
    other jobs run while it waits; a sync one runs through, blocking them.
    Each runs in its own task, whose copy of the context keeps its own
    job's log fields."""
    with _log.job_context(seq, job):
        try:
            result = _start(job)
            if inspect.isawaitable(result):
                result = await result
            return _ok(seq, result)
        except Exception as e:  # noqa: BLE001 - any failure is the job's outcome
            return _failed(seq, e)


# The kept /proc/self/statm, and the last figure read from it and when.
_statm: Dict[str, Any] = {"fd": -1, "kb": 0, "at": -1.0}
_RSS_FRESH_S = 0.001


def _forget_statm() -> None:
    """In a process forked from a worker (a handler's own fork): the kept fd
    still reads the worker's figures, so the child opens its own."""
    _statm.update(fd=-1, kb=0, at=-1.0)


os.register_at_fork(after_in_child=_forget_statm)


def _rss_kb() -> int:
    """Current resident set size in kB, from /proc/self/statm (pages). The
    peak (ru_maxrss) would keep a worker over max_memory_per_child for ever
    after one large job, however much it gave back; 0 when unreadable.
    Read at most once a millisecond, by one pread on the file kept open:
    opening it for every answer cost 31 us of a noop job's ~50. A job of a
    millisecond or more always reports what it left; shorter ones may report
    a figure up to a millisecond old, so pool.max_memory_per_child recycles
    at most a millisecond of jobs later."""
    now = time.monotonic()
    if now - _statm["at"] < _RSS_FRESH_S:
        return int(_statm["kb"])
    try:
        if _statm["fd"] < 0:
            _statm["fd"] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        kb = int(os.pread(_statm["fd"], 64, 0).split()[1]) * _PAGE_KB
    except (OSError, ValueError, IndexError):
        kb = 0
    _statm.update(kb=kb, at=now)
    return kb


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _concurrency(value: Union[int, str, None]) -> int:
    """The concurrency asked for: the argument, else FORKPOOL_CONCURRENCY,
    else 1. ValueError for anything but a whole number 1..1024."""
    raw: Any = value
    if raw is None:
        raw = os.environ.get("FORKPOOL_CONCURRENCY", "1")
    try:
        n = int(raw)
    except (TypeError, ValueError):
        n = 0
    if isinstance(raw, bool) or not 1 <= n <= CONCURRENCY_MAX or str(n) != str(raw).strip():
        raise ValueError("concurrency must be a whole number from 1 to %d, not %r"
                         % (CONCURRENCY_MAX, raw))
    return n


def _serve_in_order(fd: int) -> None:
    """One job at a time: the next line is the next job. A job whose
    "cancel" line was read with it (it was cancelled while it waited in the
    channel) is answered as cancelled without running."""
    lines = _Lines(fd)
    _install_cancel_on_term(lines)
    while True:
        line = lines.next()
        if line is None:
            break
        msg = json.loads(line)
        if msg.get("op") == "stop":
            break
        if msg.get("op") == "job" and _has_cancel(lines.ahead(), msg["seq"]):
            _send(fd, _cancelled(msg["seq"]))
        elif msg.get("op") == "job":
            _running["seq"] = msg["seq"]
            answer = _answer(msg["seq"], msg.get("job", {}))
            _running["seq"] = None
            _send(fd, answer)
            if _running["cancelled"]:
                break  # the daemon is stopping this child: leave first
        # "cancel" for a job already answered: nothing to stop.


async def _serve_concurrently(fd: int, concurrency: int) -> None:
    """Job lines are read as they come and each runs as a task, at most
    `concurrency` at once, answered as it ends. On "stop" the jobs already
    running finish first; at EOF (the daemon is gone, nobody would read the
    answers) they are cancelled."""
    loop = asyncio.get_running_loop()
    lines: "asyncio.Queue[Optional[bytes]]" = asyncio.Queue()
    partial = [b""]

    def readable() -> None:
        data = os.read(fd, 65536)
        *complete, partial[0] = (partial[0] + data).split(b"\n")
        for line in complete:
            lines.put_nowait(line)
        if not data:
            loop.remove_reader(fd)
            lines.put_nowait(None)

    slots = asyncio.Semaphore(concurrency)
    running: Set["asyncio.Task[None]"] = set()
    by_seq: Dict[int, "asyncio.Task[None]"] = {}

    async def serve(seq: int, job: Dict[str, Any]) -> None:
        try:
            async with slots:
                answer = await _answered_or_cancelled(seq, job)
        finally:
            by_seq.pop(seq, None)
        _send(fd, answer)

    loop.add_reader(fd, readable)
    try:
        while True:
            line = await lines.get()
            if line is None:
                for task in running:
                    task.cancel()
                break
            msg = json.loads(line)
            if msg.get("op") == "stop":
                break
            if msg.get("op") == "job":
                task = loop.create_task(serve(msg["seq"], msg.get("job", {})))
                running.add(task)
                task.add_done_callback(running.discard)
                by_seq[msg["seq"]] = task
            if msg.get("op") == "cancel":
                _cancel_task(by_seq, msg.get("seq"))
        await asyncio.gather(*running, return_exceptions=True)
    finally:
        loop.remove_reader(fd)


def _cancel_task(by_seq: Dict[int, "asyncio.Task[None]"], seq: Any) -> None:
    """A "cancel" line: the job's task, if it still runs, is cancelled (its
    handler sees asyncio.CancelledError at its next await) and marked so its
    answer says so. A job already answered (or not this child's) is left."""
    task = by_seq.get(seq) if isinstance(seq, int) else None
    if task is not None and not task.done():
        _cancel_requested.add(seq)
        task.cancel()


# The seqs a "cancel" line asked to stop (concurrent mode).
_cancel_requested: Set[int] = set()


async def _answered_or_cancelled(seq: int, job: Dict[str, Any]) -> Dict[str, Any]:
    """The job's "done": its own, or the cancelled answer when a "cancel"
    line stopped it. A cancel that comes from elsewhere (EOF) propagates.
    A handler that swallows the CancelledError and returns anyway answers
    for itself: its "done" came before the cancel took effect."""
    try:
        return await _answer_async(seq, job)
    except asyncio.CancelledError:
        if seq not in _cancel_requested:
            raise
        return _cancelled(seq)
    finally:
        _cancel_requested.discard(seq)


def run(concurrency: Optional[int] = None) -> None:
    """Says ready, then serves jobs until "stop" or EOF; exits 0. With
    concurrency N > 1 (default: FORKPOOL_CONCURRENCY, else 1) up to N jobs
    run at once, async handlers side by side on the child's event loop. A
    bad concurrency ends the process as `python3 -m forkpool.worker` does:
    the reason on stderr and exit 64, before "ready" (a traceback there
    would tell the operator less, and the supervisor the same: no ready)."""
    try:
        n = _concurrency(concurrency)
    except ValueError as e:
        sys.stderr.write("forkpool.worker: %s\n" % e)
        sys.exit(64)
    fd = int(os.environ["FORKPOOL_FD"])
    for stream in (sys.stdout, sys.stderr):  # prints reach the log line by line
        cast(Any, stream).reconfigure(line_buffering=True)
    _log.configure()  # after the app's imports: one that set up logging keeps it
    ready: Dict[str, Any] = {"op": "ready", "pid": os.getpid()}
    if n > 1:
        ready["concurrency"] = n
    _send(fd, ready)
    if n > 1:
        _await(_serve_concurrently(fd, n))
    else:
        _serve_in_order(fd)
    _close_loop()
    sys.exit(0)


USAGE = "usage: python3 -m forkpool.worker [--concurrency N] MODULE [MODULE...]\n"


def _parse_args(argv: List[str]) -> Tuple[List[str], Optional[int]]:
    """The modules and the --concurrency value (None when not given);
    ValueError with the reason on anything else."""
    modules: List[str] = []
    concurrency: Optional[int] = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--concurrency" and args:
            concurrency = _concurrency(args.pop(0))
        elif arg.startswith("--concurrency="):
            concurrency = _concurrency(arg.split("=", 1)[1])
        elif arg.startswith("-"):
            raise ValueError("unknown option %r" % arg)
        else:
            modules.append(arg)
    if not modules:
        raise ValueError("no module to serve")
    return modules, concurrency


def main(argv: List[str]) -> None:
    """`python3 -m forkpool.worker [--concurrency N] MODULE...`: import each
    module (they register handlers and tasks as they load), then serve."""
    try:
        modules, concurrency = _parse_args(argv)
        _concurrency(concurrency)  # FORKPOOL_CONCURRENCY too, before the imports
    except ValueError as e:
        sys.stderr.write("forkpool.worker: %s\n%s" % (e, USAGE))
        sys.exit(64)
    for name in modules:
        importlib.import_module(name)
    run(concurrency)


if __name__ == "__main__":
    # Under `-m` this file runs as __main__, a second copy of the module: the
    # handlers the app registers land in the real forkpool.worker, so serve
    # from that one.
    from forkpool import worker as _worker
    _worker.main(sys.argv[1:])
