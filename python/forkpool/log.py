"""forkpool.log: structured logging for workers. Standard library only.

forkpool reads each child's stderr line by line and logs every line as
"child N: <line>", so one record must be one line. run() calls configure(),
which sends Python's `logging` to stderr as logfmt:

    level=warning type=resize id=j-1 seq=7 attempt=1 logger=myapp msg="no thumbnail"

The job fields come from the job being served, kept in a contextvars
variable: an asyncio task copies the context it was created in, so records
from async handlers, and from several jobs running at once on one loop,
carry their own job's fields. An app that configured logging itself (the
root logger has a handler before run()) is left as it is; it can still use
LogfmtFormatter on its own handler.
"""
import contextvars
import logging
import re
import sys
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Tuple

__all__ = ["LogfmtFormatter", "configure", "job_context", "current_job"]

# The job being served in this context: {"type", "id", "seq", "attempt"}.
_job: "contextvars.ContextVar[Optional[Dict[str, Any]]]" = contextvars.ContextVar(
    "forkpool_job", default=None)

_FIELDS = ("type", "id", "seq", "attempt")
_BARE = re.compile(r"[^\s\"=\\\x00-\x1f\x7f]+")
_ESCAPES = {"\\": "\\\\", "\"": "\\\"", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def current_job() -> Optional[Dict[str, Any]]:
    """The fields of the job this code runs for, or None outside a job."""
    return _job.get()


class _JobContext:
    """job_context's manager: a class rather than a generator, as it runs
    around every job the worker answers (a generator-based one cost more
    than a noop job's handler)."""

    __slots__ = ("_fields", "_token")

    def __init__(self, fields: Dict[str, Any]) -> None:
        self._fields = fields
        self._token: Optional["contextvars.Token[Optional[Dict[str, Any]]]"] = None

    def __enter__(self) -> None:
        self._token = _job.set(self._fields)

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _job.reset(self._token)


def job_context(seq: int, job: Mapping[str, Any],
                attempt: Optional[int] = None) -> ContextManager[None]:
    """Records logged inside carry this job's fields. attempt: the job
    message's; by default job["attempt"] + 1, as the daemon counts it."""
    if attempt is None:
        prior = job.get("attempt", 0)
        attempt = prior + 1 if isinstance(prior, int) else None
    return _JobContext({"type": job.get("type"), "id": job.get("id"), "seq": seq,
                        "attempt": attempt})


def _value(v: Any, quote: bool = False) -> str:
    """One logfmt value: bare when it can be, else quoted with escapes, so
    that no value can break the line or fake another key."""
    text = v if isinstance(v, str) else str(v)
    if not quote and _BARE.fullmatch(text):
        return text
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "\"%s\"" % "".join(out)


class LogfmtFormatter(logging.Formatter):
    """level=... [job fields] logger=... msg="..." [exc="..."], one line."""

    def format(self, record: logging.LogRecord) -> str:
        pairs: List[Tuple[str, Any]] = [("level", record.levelname.lower())]
        job = _job.get()
        if job is not None:
            pairs += [(k, job[k]) for k in _FIELDS if job.get(k) is not None]
        pairs += [("logger", record.name)]
        text = " ".join("%s=%s" % (k, _value(v)) for k, v in pairs)
        text += " msg=" + _value(record.getMessage(), quote=True)
        if record.exc_info:
            text += " exc=" + _value(self.formatException(record.exc_info), quote=True)
        if record.stack_info:
            text += " stack=" + _value(self.formatStack(record.stack_info), quote=True)
        return text


def configure(level: int = logging.INFO) -> bool:
    """Root logger to stderr in logfmt at level, unless the app configured
    logging itself; True when it did configure."""
    root = logging.getLogger()
    if root.handlers:
        return False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return True
