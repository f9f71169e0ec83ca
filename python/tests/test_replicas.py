"""wait_replicas against a real master and replica on loopback: WAIT after
the XADD or ZADD, NotReplicated (with the ids and the count reached) when too
few replicas acknowledged, and the job still on the master then."""
import time

import pytest
import redis

from conftest import start_redis, stop_redis
from forkpool import Client, NotReplicated, task

JOBS = "fp:{default}:jobs"
DELAYED = "fp:{default}:delayed"


def wait_online(master, replica):
    """Until the master counts the replica online and the replica has
    loaded what it was sent (it answers WAIT only after that). A safety net
    for a replica that never syncs, not a measurement."""
    for _ in range(3000):
        info = master.info("replication")
        if (info.get("slave0", {}).get("state") == "online"
                and replica.info("replication").get("master_link_status") == "up"):
            return
        time.sleep(0.01)
    pytest.fail("the replica did not come online: %r" % info)


@pytest.fixture
def pair(tmp_path):
    """(client on the master, the replica's process, a redis client on it)."""
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    master, mport = start_redis(tmp_path / "m")
    replica, rport = start_redis(tmp_path / "r", "--replicaof", "127.0.0.1", str(mport))
    c = Client("redis://127.0.0.1:%d/0" % mport)
    r = redis.Redis(port=rport)
    try:
        wait_online(c.redis, r)
        yield c, replica, r
    finally:
        c.close()
        r.close()
        for p in (replica, master):
            if p.poll() is None:
                stop_redis(p)


def test_replicated_enqueue_returns_and_the_replica_has_it(pair):
    c, _, replica = pair
    # Generous timeouts: WAIT returns as soon as the replica acknowledges;
    # the time is there for a loaded machine, not measured.
    entry_id = c.enqueue("square", {"n": 2}, wait_replicas=1, wait_timeout=30)
    # WAIT answered 1: the replica has applied the XADD already.
    assert [e[0].decode() for e in replica.xrange(JOBS)] == [entry_id]
    ids = c.enqueue_many([{"type": "a"}, {"type": "b", "delay": "1h", "job_id": "later"}],
                         wait_replicas=1, wait_timeout="30s")
    assert ids[1] == "later" and replica.xlen(JOBS) == 2 and replica.zcard(DELAYED) == 1

    @task(name="replicated_task", client=c)
    def t(x):
        return x
    t.apply_async((1,), wait_replicas=1, wait_timeout=30)
    assert replica.xlen(JOBS) == 3


def test_too_few_replicas_raise_with_the_ids_and_the_count(pair):
    c, replica_proc, _ = pair
    with pytest.raises(NotReplicated) as e:
        # Long enough for the one replica to acknowledge on a loaded machine.
        c.enqueue("square", {"n": 3}, job_id="j-1", wait_replicas=2, wait_timeout=2)
    assert (e.value.ids, e.value.acked, e.value.wanted) == (["j-1"], 1, 2)
    assert "only 1 of 2 replicas" in str(e.value) and "may be lost" in str(e.value)

    stop_redis(replica_proc)
    with pytest.raises(NotReplicated) as e:
        c.enqueue("square", {"n": 4}, wait_replicas=1)  # the default timeout: 1 s
    assert (e.value.acked, e.value.timeout_ms) == (0, 1000)
    # The job is on the master all the same: the exception says so.
    [entry_id] = e.value.ids
    assert c.redis.xrange(JOBS)[-1][0].decode() == entry_id
    with pytest.raises(NotReplicated) as e:
        c.enqueue("later", delay="1h", wait_replicas=1, wait_timeout="100ms")
    assert e.value.ids == [c.job(e.value.ids[0])["job"]["id"]]


@pytest.mark.parametrize("kwargs, text", [
    ({"wait_replicas": 0}, "wait_replicas must be"),
    ({"wait_replicas": True}, "wait_replicas must be"),
    ({"wait_replicas": "1"}, "wait_replicas must be"),
    ({"wait_replicas": 1, "wait_timeout": 0}, "wait_timeout must be more than 0"),
    ({"wait_replicas": 1, "wait_timeout": "0"}, "wait_timeout must be more than 0"),
    ({"wait_replicas": 1, "wait_timeout": -1}, "wait_timeout must be more than 0"),
    ({"wait_replicas": 1, "wait_timeout": "soon"}, "invalid duration"),
])
def test_bad_wait_arguments_send_nothing(client, kwargs, text):
    with pytest.raises(ValueError, match=text):
        client.enqueue("t", **kwargs)
    with pytest.raises(ValueError, match=text):
        client.enqueue_many([{"type": "t"}], **kwargs)
    assert client.redis.dbsize() == 0


def test_wait_timeout_alone_is_refused(client):
    """As the CLI refuses --wait-timeout without --wait-replicas: it would
    wait for nothing."""
    @task(name="timeout_alone", client=client)
    def t(x):
        return x
    calls = [lambda: client.enqueue("t", wait_timeout="2s"),
             lambda: client.enqueue("t", wait_timeout=2, unique="k"),
             lambda: client.enqueue_many([{"type": "t"}], wait_timeout=2),
             lambda: t.apply_async((1,), wait_timeout="2s")]
    for call in calls:
        with pytest.raises(ValueError, match="wait_timeout needs wait_replicas"):
            call()
    assert client.redis.dbsize() == 0
