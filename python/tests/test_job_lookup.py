"""Client.job(id) against a real Redis: each state a job can be in there
(ready, running, delayed, dead), found by its payload id and by its stream
entry id, None for a job Redis no longer has, and the scan bound."""
import pytest

from conftest import c_string
from forkpool.lookup import JOB_SCRIPT

JOBS = "fp:{default}:jobs"
DEAD = "fp:{default}:dead"


def deliver(client, consumer="host-a", count=1):
    """What a daemon's XREADGROUP does: the entries become pending."""
    try:
        client.redis.xgroup_create(JOBS, "forkpool", id="0")
    except Exception:  # noqa: BLE001 - BUSYGROUP: made by an earlier call
        pass
    return client.redis.xreadgroup("forkpool", consumer, {JOBS: ">"}, count=count)


def test_ready_by_payload_id_and_by_entry_id(client):
    entry_id = client.enqueue("resize", {"w": 1}, job_id="order-1")
    plain = client.enqueue("noop")  # no id: enqueue returned the entry id
    want = {"state": "ready", "queue": "default", "entry_id": None,
            "job": {"type": "resize", "args": {"w": 1}, "id": "order-1"}}
    got = client.job("order-1")
    want["entry_id"] = got["entry_id"]
    assert got == want
    assert client.job(got["entry_id"]) == want
    assert entry_id == "order-1"  # enqueue returns the job's own id when it has one
    assert client.job(plain) == {"state": "ready", "queue": "default", "entry_id": plain,
                                 "job": {"type": "noop"}}
    # A group that exists but has not delivered it yet: still ready.
    client.redis.xgroup_create(JOBS, "forkpool", id="$")
    assert client.job(plain)["state"] == "ready"


def test_running_shows_the_consumer_and_deliveries(client):
    client.enqueue("first", job_id=7)
    second = client.enqueue("second")
    deliver(client, "host-a", count=2)
    got = client.job(7)
    assert got["state"] == "running" and got["job"] == {"type": "first", "id": 7}
    assert (got["consumer"], got["deliveries"]) == ("host-a", 1)
    assert got["idle_ms"] >= 0
    assert client.job("7")["job"] == {"type": "first", "id": 7}  # the id's text finds it too
    # Claimed by another daemon: its name, one more delivery.
    client.redis.xclaim(JOBS, "forkpool", "host-b", 0, [second])
    got = client.job(second)
    assert (got["state"], got["consumer"], got["deliveries"]) == ("running", "host-b", 2)


def test_delayed_shows_the_due_time(client):
    before = client._redis_now_ms()
    job_id = client.enqueue("later", {"n": 1}, delay="1h")
    got = client.job(job_id)
    assert got["state"] == "delayed" and got["entry_id"] is None
    assert got["job"] == {"type": "later", "args": {"n": 1}, "id": job_id}
    assert before + 3600000 <= got["due_ms"] <= client._redis_now_ms() + 3600000


def test_dead_shows_the_error(client):
    client.redis.xadd(DEAD, {"job": '{"type":"x","id":"j-9"}', "error": "boom",
                             "attempts": "3", "failed_at": "1700000000000",
                             "consumer": "host-a"})
    got = client.job("j-9", queue="default")
    dead_id = client.redis.xrange(DEAD)[0][0].decode()
    assert got == {"state": "dead", "queue": "default", "entry_id": None, "dead_id": dead_id,
                   "job": {"type": "x", "id": "j-9"}, "error": "boom", "attempts": 3,
                   "failed_at": 1700000000000, "consumer": "host-a"}


def test_not_in_redis_is_none(client):
    client.enqueue("t", job_id="gone")
    [[_, [(delivered, _)]]] = deliver(client)
    assert client.job("gone")["state"] == "running"
    # Success is XACK + XDEL: done jobs are not kept in Redis.
    client.redis.xack(JOBS, "forkpool", delivered)
    client.redis.xdel(JOBS, delivered)
    assert client.job("gone") is None
    assert client.job(delivered.decode()) is None
    assert client.job("nobody") is None
    assert client.job("99999999999999999999999-0") is None  # not a valid entry id: not found
    assert client.job("gone", queue="other") is None


def test_payload_ids_are_matched_exactly(client):
    client.enqueue("t", job_id="order-10")
    client.enqueue("t", {"note": "order-1"})  # the text, but not as the id
    assert client.job("order-1") is None
    assert client.job("order-10")["job"]["id"] == "order-10"


def test_scan_bounds_the_payload_search_only(client):
    ids = [client.enqueue("t", job_id="n-%d" % i) for i in range(3)]
    entries = [e[0].decode() for e in client.redis.xrange(JOBS)]
    assert client.job(ids[2], scan=2) is None       # beyond the first 2 entries
    assert client.job(ids[2], scan=3)["entry_id"] == entries[2]
    assert client.job(entries[2], scan=1)["job"]["id"] == "n-2"  # an entry id: no scan


@pytest.mark.parametrize("args, text", [
    (("",), "id must be"), ((None,), "id must be"), ((True,), "id must be"),
    (("x", None, 0), "scan must be"), (("x", "a{b}"), "must not contain"),
])
def test_bad_arguments(client, args, text):
    with pytest.raises(ValueError, match=text):
        client.job(*args)


def test_ids_json_writes_escaped_are_found(client):
    client.enqueue("t", job_id='a"b/\\c')
    client.redis.xadd(JOBS, {"job": '{"type":"t","id":"caf\\u00e9"}'})
    assert client.job('a"b/\\c')["job"]["id"] == 'a"b/\\c'
    assert client.job("café")["job"] == {"type": "t", "id": "café"}


def test_script_is_the_clis():
    # One lookup script for `forkpool job` and Client.job: the copy must not drift.
    assert c_string("lib/queue/job_lookup.c", "fp_job_lookup_script") == JOB_SCRIPT
