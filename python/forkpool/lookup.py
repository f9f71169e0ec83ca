"""forkpool.lookup: where one job is, read from Redis by Client.job().

One Lua script looks at the stream, the delayed set and the dead stream of a
queue: a script runs atomically, so a job the daemon moves between them at
that moment (the mover taking it from delayed to the stream, an outcome
sending it to dead) is seen exactly once, never missed and never twice.

Cost: a full stream entry id ("1700000000000-0") is found with one XRANGE
and one XPENDING, O(log n). A payload `id` has no index in Redis: the script
reads up to `scan` entries of each of the three keys (the oldest of the
stream, the soonest of the delayed set, the newest of the dead stream) and
decodes only the payloads whose text contains the id; jobs beyond it are not
seen. Redis serves nobody else meanwhile: about 3 ms at the default of 1,000
per key, 37 ms at 10,000 (docs/redis.md, "Finding one job").

Done jobs are not in Redis (success deletes the entry): the daemon's ledger
has them.

JOB_SCRIPT is a copy of fp_job_lookup_script in lib/queue/job_lookup.c, the
one `forkpool job` runs; python/tests checks the two are equal. A copy, not a
file both read: a pip install of this package has no C sources to read.
"""
import json
from typing import Any, Callable, Dict, List, Mapping, Optional

__all__ = ["JOB_SCRIPT", "job_state", "parse_payload", "text"]

JOB_SCRIPT = """
local jobs, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local group, id, cap = ARGV[1], ARGV[2], tonumber(ARGV[3])

-- The payload's "id" as text; cheap text search first, so that only
-- payloads that may match are decoded. An id JSON may write escaped
-- ('"', '\\', '/', non-ASCII as \\uXXXX) is not searched for: decode all.
local plain = not string.find(id, '[^%w%-_.:]')
local function payload_id(text)
  if plain and not string.find(text, id, 1, true) then return nil end
  local ok, job = pcall(cjson.decode, text)
  if not ok or type(job) ~= 'table' then return nil end
  local v = job['id']
  if type(v) == 'number' and v == math.floor(v) then return string.format('%.0f', v) end
  if type(v) == 'number' or type(v) == 'string' then return tostring(v) end
  return nil
end

local function field(fields, name)
  for k = 1, #fields, 2 do
    if fields[k] == name then return fields[k + 1] end
  end
  return nil
end

local has_group = false
if redis.call('EXISTS', jobs) == 1 then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do
    if field(g, 'name') == group then has_group = true end
  end
end

-- An entry of the stream: running when pending to a consumer, else ready.
local function in_stream(entry)
  local payload = field(entry[2], 'job') or false
  if has_group then
    local p = redis.call('XPENDING', jobs, group, entry[1], entry[1], 1)
    if #p > 0 then return {'running', entry[1], payload, {p[1][2], p[1][3], p[1][4]}} end
  end
  return {'ready', entry[1], payload}
end

if string.match(id, '^%d+%-%d+$') then
  local e = redis.pcall('XRANGE', jobs, id, id)  -- an id out of range is an error: not found
  if type(e) == 'table' and not e.err and #e > 0 then return in_stream(e[1]) end
end
for _, e in ipairs(redis.call('XRANGE', jobs, '-', '+', 'COUNT', cap)) do
  local payload = field(e[2], 'job')
  if payload and payload_id(payload) == id then return in_stream(e) end
end
local d = redis.call('ZRANGE', delayed, 0, cap - 1, 'WITHSCORES')
for k = 1, #d, 2 do
  if payload_id(d[k]) == id then return {'delayed', false, d[k], d[k + 1]} end
end
for _, e in ipairs(redis.call('XREVRANGE', dead, '+', '-', 'COUNT', cap)) do
  local payload = field(e[2], 'job')
  if payload and payload_id(payload) == id then return {'dead', e[1], payload, e[2]} end
end
return false
"""


def text(v: Any) -> str:
    """A reply's bytes as text."""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _fields(flat: List[Any]) -> Dict[bytes, bytes]:
    return {flat[k]: flat[k + 1] for k in range(0, len(flat) - 1, 2)}


def parse_payload(payload: Any) -> Any:
    """The payload parsed, or its text when it is not JSON, as `forkpool
    dead list --json` shows it."""
    t = text(payload)
    try:
        return json.loads(t)
    except ValueError:
        return t


DeadEntry = Callable[[str, bytes, Mapping[bytes, bytes]], Dict[str, Any]]


def job_state(queue: str, reply: Any, dead_entry: DeadEntry) -> Optional[Dict[str, Any]]:
    """Client.job's answer from the script's reply (None: not found);
    dead_entry is Client.dead's entry shape, reused for a dead job."""
    if not reply:
        return None
    state = text(reply[0])
    out: Dict[str, Any] = {"state": state, "queue": queue}
    if state == "dead":
        entry = dead_entry(queue, reply[1], _fields(reply[3]))
        out.update({"entry_id": None, "dead_id": entry["id"], "job": entry["job"],
                    "error": entry["error"], "attempts": entry["attempts"],
                    "failed_at": entry["failed_at"], "consumer": entry["consumer"]})
        return out
    out["entry_id"] = text(reply[1]) if reply[1] else None
    out["job"] = parse_payload(reply[2]) if reply[2] else None
    if state == "running":
        consumer, idle, deliveries = reply[3]
        out.update({"consumer": text(consumer), "idle_ms": int(idle),
                    "deliveries": int(deliveries)})
    elif state == "delayed":
        out["due_ms"] = int(float(text(reply[3])))
    return out
