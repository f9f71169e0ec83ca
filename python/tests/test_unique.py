"""Unique jobs from Python: Client.enqueue(unique=...) and
Client.enqueue_unique against a real Redis, the same script and job as
`forkpool enqueue --unique`, bad input refused before anything is sent, and
a round trip through the real binary that releases the key."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, write_config
from forkpool.client import UNIQUE_ENQUEUE_SCRIPT

JOBS = "fp:{default}:jobs"
DELAYED = "fp:{default}:delayed"
KEY = "fp:{default}:unique:order-17"


def test_duplicate_returns_the_holder(client):
    job_id, duplicate = client.enqueue_unique("square", {"n": 1}, unique="order-17")
    assert not duplicate
    assert client.redis.get(KEY).decode() == job_id
    again, duplicate = client.enqueue_unique("square", {"n": 2}, unique="order-17")
    assert duplicate and again == job_id
    # enqueue keeps returning the id: the holder's for a duplicate.
    assert client.enqueue("square", unique="order-17") == job_id
    [(_, fields)] = client.redis.xrange(JOBS)
    assert json.loads(fields[b"job"]) == {"type": "square", "args": {"n": 1}, "id": job_id,
                                          "unique": {"key": "order-17", "until": "done"}}
    # Per queue: the same key on another queue is another key.
    other, duplicate = client.enqueue_unique("square", unique="order-17", queue="mail")
    assert not duplicate and other != job_id


def test_ttl_until_delay_and_given_ids(client):
    job_id, _ = client.enqueue_unique("t", unique="order-17", job_id=42, unique_until="start",
                                      unique_for="90s")
    assert job_id == "42"  # the key holds text: the job's id becomes a string
    assert 0 < client.redis.pttl(KEY) <= 90000
    [(_, fields)] = client.redis.xrange(JOBS)
    assert json.loads(fields[b"job"])["unique"] == {"key": "order-17", "until": "start"}
    # Delayed: into the delayed set, and the default TTL counts from when it is due.
    job_id, _ = client.enqueue_unique("t", unique="later", delay="1h")
    [member] = client.redis.zrange(DELAYED, 0, -1)
    assert json.loads(member)["id"] == job_id
    assert client.redis.pttl("fp:{default}:unique:later") > 24 * 3600 * 1000


@pytest.mark.parametrize("kwargs, message", [
    ({"unique": ""}, "non-empty string"),
    ({"unique": 7}, "non-empty string"),
    ({"unique": "k" * 513}, "longer than 512 bytes"),
    ({"unique_for": "1h"}, "need it"),
    ({"unique_until": "done"}, "need it"),
    ({"unique": "k", "unique_until": "end"}, "unique_until"),
    ({"unique": "k", "unique_for": 0}, "more than 0"),
    ({"unique": "k", "unique_for": "soon"}, "invalid duration"),
    # The daemon refuses a unique job without a non-empty string id: its key
    # would stay held for the whole TTL.
    ({"unique": "k", "job_id": ""}, "job_id of a unique job"),
    ({"unique": "k", "job_id": 5.0}, "job_id of a unique job"),
    ({"unique": "k", "job_id": True}, "job_id of a unique job"),
])
def test_bad_unique_options_send_nothing(client, kwargs, message):
    with pytest.raises(ValueError, match=message):
        client.enqueue("t", **kwargs)
    assert client.redis.dbsize() == 0


def test_enqueue_many_refuses_unique(client):
    with pytest.raises(TypeError, match="enqueue_unique"):
        client.enqueue_many([{"type": "t"}, {"type": "t", "unique": "k"}])
    assert client.redis.dbsize() == 0


def test_script_is_the_daemons(client):
    source = open(os.path.join(REPO, "lib", "queue", "unique.c")).read()
    body = source.split("const char fp_script_unique_enqueue[] =", 1)[1].split(";", 1)[0]
    c_text = "".join(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body))
    assert c_text == UNIQUE_ENQUEUE_SCRIPT


def test_cli_and_client_share_the_key(client, redis_url, forkpool_bin, tmp_path):
    config = write_config(tmp_path / "f.toml", redis_url)
    job_id, _ = client.enqueue_unique("t", unique="order-17")
    out = subprocess.run([forkpool_bin, "enqueue", "-c", config, "--json", "--unique",
                          "order-17", "t"], check=True, stdout=subprocess.PIPE, timeout=60)
    assert json.loads(out.stdout) == {"duplicate": True, "id": job_id}


def test_success_releases_the_key(client, redis_url, forkpool_bin, tmp_path):
    worker = os.path.join(REPO, "test", "data", "exec_worker.py")
    config = write_config(tmp_path / "forkpool.toml", redis_url, textwrap.dedent('''
        [pool]
        runtime = "exec"
        children = 1
        command = ["%s", "%s"]
    ''' % (sys.executable, worker)))
    first, _ = client.enqueue_unique("noop", unique="order-17")
    run = subprocess.run([forkpool_bin, "run", "--burst", "-c", config],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert run.returncode == 0, run.stdout.decode(errors="replace")
    assert client.redis.exists(KEY) == 0
    second, duplicate = client.enqueue_unique("noop", unique="order-17")
    assert not duplicate and second != first


def test_wait_replicas_with_unique(client):
    from forkpool import NotReplicated
    # This Redis has no replica: an added job is reported as on the master only.
    with pytest.raises(NotReplicated) as e:
        client.enqueue("t", unique="order-17", wait_replicas=1, wait_timeout="50ms")
    holder = client.redis.get(KEY).decode()
    assert e.value.ids == [holder]
    # A duplicate wrote nothing: nothing to wait for, no error.
    assert client.enqueue("t", unique="order-17", wait_replicas=1,
                          wait_timeout="50ms") == holder
