"""forkpool_worker: serve forkpool jobs from Python (pool.runtime = "exec").

    from forkpool_worker import handler, run, Permanent

    MODEL = load_model()            # import-time set-up: once per child

    @handler("resize")
    def resize(args):               # args: the job's "args" object
        return {"width": args["w"]} # any JSON-able value becomes the result

    run()

forkpool starts the program once per child with the dispatch socket on the
fd named by FORKPOOL_FD and reuses it for many jobs. A handler that raises
fails the attempt and the job is retried under [retry], and so does one whose
result JSON cannot carry (NaN, Infinity, a set: "ValueError: ..." or
"TypeError: ..."); raising Permanent fails it for good; a job type with no
handler fails for good. Standard
library only; see docs/protocol.md for the protocol.
"""
import json
import os
import sys

__all__ = ["handler", "run", "Permanent"]

_handlers = {}


class Permanent(Exception):
    """Raise from a handler to fail the job without a retry."""


def handler(name):
    """Decorator: the function serves jobs whose "type" is name."""
    def register(fn):
        _handlers[name] = fn
        return fn
    return register


def _dumps(value):
    """JSON text; NaN and Infinity, which JSON has no words for and the daemon
    would refuse as a protocol error, raise ValueError instead."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _send(fd, msg):
    data = (_dumps(msg) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _answer(seq, job):
    """The "done" message for one job."""
    fn = _handlers.get(job.get("type"))
    try:
        if fn is None:
            raise Permanent("no handler for job type %r" % job.get("type"))
        result = fn(job.get("args", {}))
        _dumps(result)  # a result that is not JSON (a set, NaN) fails here, in the handler's name
        done = {"op": "done", "seq": seq, "ok": True, "result": result}
    except Permanent as e:
        done = {"op": "done", "seq": seq, "ok": False, "error": str(e) or "failed", "retry": False}
    except Exception as e:  # noqa: BLE001 - any failure is the job's outcome
        done = {"op": "done", "seq": seq, "ok": False, "retry": True,
                "error": "%s: %s" % (type(e).__name__, e)}
    done["rss_kb"] = _rss_kb()
    return done


def _rss_kb():
    """Current resident set size in kB, from /proc/self/statm (pages). The
    peak (ru_maxrss) would keep a worker over max_memory_per_child for ever
    after one large job, however much it gave back; 0 when unreadable."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def run():
    """Says ready, then serves jobs until "stop" or EOF; exits 0."""
    fd = int(os.environ["FORKPOOL_FD"])
    for stream in (sys.stdout, sys.stderr):  # prints reach the log line by line
        stream.reconfigure(line_buffering=True)
    _send(fd, {"op": "ready", "pid": os.getpid()})
    with os.fdopen(fd, "rb", closefd=False) as channel:
        for line in channel:
            msg = json.loads(line)
            if msg.get("op") == "stop":
                break
            if msg.get("op") == "job":
                _send(fd, _answer(msg["seq"], msg.get("job", {})))
    sys.exit(0)
