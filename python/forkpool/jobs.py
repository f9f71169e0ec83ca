"""forkpool.jobs: the job format of docs/redis.md ("Enqueueing from any
language"), built and checked the way the daemon's fp_job_parse
(lib/dispatch/job.c) will check it, so that a job the daemon would only move
to the dead stream is refused with ValueError or TypeError before it is sent.
Standard library only: task() uses it in workers, which have no Redis client.
"""
import datetime
import json
import math
import re
from typing import Any, Dict, Mapping, Optional, Union

__all__ = ["build_job", "encode_job", "check_queue", "parse_duration_ms", "delay_ms"]

# The daemon's defaults (lib/config/config_schema.c): a producer that keeps
# them talks to a daemon that keeps them.
DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "fp"              # redis.prefix
DEFAULT_QUEUE = "default"          # queues.names
DEFAULT_GROUP = "forkpool"         # redis.group
DEFAULT_MAX_JOB_BYTES = 1 << 20    # limits.max_job_bytes

# lib/dispatch/job.h and job.c: the limits a payload must respect.
TYPE_MAX_BYTES = 128               # FP_JOB_TYPE_MAX
MAX_ATTEMPTS_LIMIT = 1000          # MAX_ATTEMPTS_LIMIT
TIMEOUT_MAX_MS = 7 * 24 * 3600 * 1000
ID_INT_LIMIT = 2 ** 53             # ids beyond it are not exact in a double

# lib/base/units.c: "1h30m", "250ms", units from largest to smallest, each at
# most once, whole numbers, lower case; a bare "0" is the only unitless value.
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_MS = (86400000, 3600000, 60000, 1000, 1)

Delay = Union[int, float, str, datetime.timedelta]

# enqueue's first parameter is called type, as the job's member is; the
# built-in stays reachable under this name.
builtin_type = type


def parse_duration_ms(text: str) -> int:
    """A duration as the daemon writes it ("30s", "1h30m", "250ms") in ms."""
    if text == "0":
        return 0
    m = _DURATION.fullmatch(text)
    if not text or m is None:
        raise ValueError("invalid duration %r: use whole numbers with units from largest to "
                         "smallest: d, h, m, s, ms (\"1h30m\", \"1500ms\")" % text[:48])
    return sum(int(n) * f for n, f in zip(m.groups(), _DURATION_MS) if n is not None)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _whole(v: Any, lo: float, hi: float) -> bool:
    """What job.c calls a whole number: a finite number without fraction."""
    if _is_int(v):
        return bool(lo <= v <= hi)
    return isinstance(v, float) and math.isfinite(v) and v.is_integer() and lo <= v <= hi


def _seconds(value: Any, what: str) -> float:
    """A number of seconds, or a timedelta, as float seconds."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if (_is_int(value) or isinstance(value, float)) and math.isfinite(value):
        return float(value)
    raise TypeError("%s must be a number of seconds, a timedelta or a duration such as "
                    "\"30s\", not %s" % (what, type(value).__name__))


def delay_ms(delay: Delay) -> int:
    ms = parse_duration_ms(delay) if isinstance(delay, str) else round(_seconds(delay, "delay") * 1000)
    if ms < 0:
        raise ValueError("delay must not be negative")
    return ms


def check_queue(queue: Any) -> str:
    # Queue names sit inside the {Q} hash tag of every key
    # (fp__check_queue_names): braces would move the job to another key.
    if not isinstance(queue, str) or not queue:
        raise ValueError("queue must be a non-empty string")
    if "{" in queue or "}" in queue:
        raise ValueError("queue %r must not contain '{' or '}'" % queue)
    return queue


def _timeout_value(timeout: Any) -> Union[str, int, float]:
    """timeout as it goes into the job: a duration string, or seconds."""
    if isinstance(timeout, str):
        ms = parse_duration_ms(timeout)
        value: Union[str, int, float] = timeout
    else:
        secs = _seconds(timeout, "timeout")
        ms = int(secs * 1000.0)  # job.c truncates seconds * 1000 the same way
        value = secs if isinstance(timeout, datetime.timedelta) else timeout
        if isinstance(value, float) and value.is_integer():
            value = int(value)
    if ms <= 0 or ms > TIMEOUT_MAX_MS:
        raise ValueError("timeout must be more than 0 and at most 7 days")
    return value


def build_job(type: str, args: Any = None, job_id: Union[str, int, None] = None,
              max_attempts: Optional[int] = None, timeout: Any = None) -> Dict[str, Any]:
    """The job object for these arguments, checked as fp_job_parse checks it."""
    if not isinstance(type, str):
        raise TypeError("type must be a string, not %s" % builtin_type(type).__name__)
    size = len(type.encode("utf-8", "surrogatepass"))
    if size == 0:
        raise ValueError("type must not be empty")
    if size > TYPE_MAX_BYTES:
        raise ValueError("type is longer than %d bytes" % TYPE_MAX_BYTES)
    job: Dict[str, Any] = {"type": type}
    if args is not None:
        job["args"] = args
    if job_id is not None:
        if not (isinstance(job_id, str) or _whole(job_id, -ID_INT_LIMIT, ID_INT_LIMIT)):
            raise ValueError("job_id must be a string or an integer within +/-2**53")
        job["id"] = int(job_id) if isinstance(job_id, float) else job_id
    if max_attempts is not None:
        if not _whole(max_attempts, 1, MAX_ATTEMPTS_LIMIT):
            raise ValueError("max_attempts must be a whole number from 1 to %d" % MAX_ATTEMPTS_LIMIT)
        job["max_attempts"] = int(max_attempts)
    if timeout is not None:
        job["timeout"] = _timeout_value(timeout)
    return job


def encode_job(job: Mapping[str, Any], max_job_bytes: int) -> bytes:
    """The job's JSON text, compact as `forkpool enqueue` writes it."""
    try:
        text = json.dumps(job, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:  # a set, an object, NaN, Infinity
        raise builtin_type(e)("the job is not JSON: %s" % e) from None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the daemon wants valid UTF-8
        raise ValueError("the job is not valid UTF-8 (a lone surrogate in a string)") from None
    if max_job_bytes > 0 and len(data) > max_job_bytes:
        raise ValueError("the job is %d bytes, more than limits.max_job_bytes (%d)"
                         % (len(data), max_job_bytes))
    return data


