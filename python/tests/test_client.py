"""The producer against a real Redis: the exact job format, the delayed set,
pipelining, refusals before anything is sent, and stats()/dead() as the
command line reports them."""
import datetime
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import PYTHON_DIR, REPO, timeless_stats, write_config
from forkpool import Client
from forkpool.client import STATS_SCRIPT

JOBS = "fp:{default}:jobs"
DELAYED = "fp:{default}:delayed"


def entries(client, key=JOBS):
    return client.redis.xrange(key)


def test_enqueue_writes_the_documented_job(client):
    entry_id = client.enqueue("square", {"n": 12})
    [(got_id, fields)] = entries(client)
    assert got_id.decode() == entry_id
    # One field, "job", holding the compact JSON object (docs/redis.md).
    assert fields == {b"job": b'{"type":"square","args":{"n":12}}'}


def test_enqueue_every_option(client):
    job_id = client.enqueue("resize", [1, "é"], queue="images", job_id="order-17",
                            max_attempts=3, timeout="1m30s")
    assert job_id == "order-17"
    [(_, fields)] = entries(client, "fp:{images}:jobs")
    assert json.loads(fields[b"job"]) == {"type": "resize", "args": [1, "é"], "id": "order-17",
                                          "max_attempts": 3, "timeout": "1m30s"}
    assert "é".encode() in fields[b"job"]  # UTF-8 as it is, as the CLI writes it


def test_enqueue_without_args_has_no_args_member(client):
    client.enqueue("noop", timeout=datetime.timedelta(seconds=30), job_id=7)
    [(_, fields)] = entries(client)
    assert fields[b"job"] == b'{"type":"noop","id":7,"timeout":30}'


def test_delay_goes_to_the_delayed_set_by_redis_clock(client):
    before = client._redis_now_ms()
    job_id = client.enqueue("square", {"n": 1}, delay=60)
    after = client._redis_now_ms()
    assert entries(client) == []
    [(member, score)] = client.redis.zrange(DELAYED, 0, -1, withscores=True)
    job = json.loads(member)
    # A delayed job always carries an id: identical members would collapse.
    assert job == {"type": "square", "args": {"n": 1}, "id": job_id}
    assert before + 60000 <= score <= after + 60000


def test_delayed_jobs_get_distinct_ids(client):
    ids = [client.enqueue("same", {"n": 1}, delay="5m") for _ in range(3)]
    assert len(set(ids)) == 3
    assert client.redis.zcard(DELAYED) == 3
    assert re.fullmatch(r"[0-9a-f]{16}-\d+", ids[0])


def test_enqueue_many_is_pipelined_and_keeps_order(client):
    specs = [{"type": "n", "args": {"i": i}} for i in range(2500)]
    specs.append({"type": "later", "delay": "1h", "job_id": "x"})
    ids = client.enqueue_many(specs)
    assert len(ids) == 2501 and ids[-1] == "x"
    got = entries(client)
    assert [e[0].decode() for e in got] == ids[:-1]
    assert [json.loads(e[1][b"job"])["args"]["i"] for e in got] == list(range(2500))
    assert client.redis.zcard(DELAYED) == 1


@pytest.mark.parametrize("kwargs, error, text", [
    ({"type": ""}, ValueError, "type must not be empty"),
    ({"type": 5}, TypeError, "type must be a string"),
    ({"type": "x" * 129}, ValueError, "longer than 128 bytes"),
    ({"type": "t", "args": {"x": float("nan")}}, ValueError, "not JSON"),
    ({"type": "t", "args": {1, 2}}, TypeError, "not JSON"),
    ({"type": "t", "args": "\udc80"}, ValueError, "not valid UTF-8"),
    ({"type": "t", "args": "x" * (1 << 20)}, ValueError, "more than limits.max_job_bytes"),
    ({"type": "t", "job_id": 1.5}, ValueError, "job_id must be"),
    ({"type": "t", "job_id": 2 ** 53 + 1}, ValueError, "job_id must be"),
    ({"type": "t", "max_attempts": 0}, ValueError, "max_attempts must be"),
    ({"type": "t", "max_attempts": 1001}, ValueError, "max_attempts must be"),
    ({"type": "t", "max_attempts": True}, ValueError, "max_attempts must be"),
    ({"type": "t", "timeout": "1.5s"}, ValueError, "invalid duration"),
    ({"type": "t", "timeout": "30"}, ValueError, "invalid duration"),
    ({"type": "t", "timeout": "30m1h"}, ValueError, "invalid duration"),
    ({"type": "t", "timeout": 0}, ValueError, "more than 0 and at most 7 days"),
    ({"type": "t", "timeout": "8d"}, ValueError, "more than 0 and at most 7 days"),
    ({"type": "t", "timeout": float("inf")}, TypeError, "timeout must be"),
    ({"type": "t", "delay": -1}, ValueError, "delay must not be negative"),
    ({"type": "t", "delay": "soon"}, ValueError, "invalid duration"),
    ({"type": "t", "queue": ""}, ValueError, "queue must be"),
    ({"type": "t", "queue": "a{b}"}, ValueError, "must not contain"),
])
def test_bad_input_is_refused_before_sending(client, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        client.enqueue(**kwargs)
    with pytest.raises(error, match="^job 1: .*" + re.escape(text)):
        client.enqueue_many([{"type": "fine"}, kwargs])
    assert client.redis.dbsize() == 0  # not even the good job before it


def test_enqueue_many_refuses_unknown_names(client):
    with pytest.raises(TypeError, match="unknown argument colour"):
        client.enqueue_many([{"type": "t", "colour": "red"}])
    with pytest.raises(TypeError, match="no type"):
        client.enqueue_many([{"args": {}}])


def test_url_from_the_environment(redis_url, monkeypatch):
    monkeypatch.setenv("FORKPOOL_REDIS_URL", redis_url)
    assert Client().url == redis_url
    monkeypatch.delenv("FORKPOOL_REDIS_URL")
    assert Client().url == "redis://127.0.0.1:6379/0"


def test_stats_script_is_the_daemons():
    # One script for the CLI, the daemon and Python: the copy must not drift.
    source = open(os.path.join(REPO, "lib", "queue", "queue_stats.c")).read()
    body = source.split("const char fp_queue_stats_script[] =", 1)[1].split(";", 1)[0]
    c_text = "".join(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body))
    assert c_text == STATS_SCRIPT


def test_stats_script_counts_in_and_out(client):
    # The last two numbers (entries added, entries read by the group) are the
    # in and out rates of the status page and `forkpool top`.
    def flow():
        r = client.redis.eval(STATS_SCRIPT, 3, JOBS, "fp:{default}:delayed",
                              "fp:{default}:dead", "forkpool", 1000, 100)
        return r[10], r[11]
    assert flow() == (0, 0)  # no stream yet: nothing in, nothing out
    client.enqueue_many([{"type": "a"}] * 3)
    assert flow() == (3, 0)  # no group yet: it has read nothing
    client.redis.xgroup_create(JOBS, "forkpool", id="0")
    client.redis.xreadgroup("forkpool", "someone", {JOBS: ">"}, count=2)
    assert flow() == (3, 2)


def run_cli(forkpool_bin, config, *args):
    out = subprocess.run([forkpool_bin, *args, "-c", config], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return out.stdout.decode()


def test_stats_agrees_with_the_cli(client, redis_url, forkpool_bin, tmp_path):
    client.enqueue_many([{"type": "a"}] * 3 + [{"type": "b", "delay": "1h"}])
    client.redis.xgroup_create(JOBS, "forkpool", id="0")
    client.redis.xreadgroup("forkpool", "someone", {JOBS: ">"}, count=1)
    config = write_config(tmp_path / "f.toml", redis_url)
    cli = json.loads(run_cli(forkpool_bin, config, "stats", "--json"))
    mine = client.stats()
    assert timeless_stats(mine) == timeless_stats(cli)
    assert mine["queues"][0]["ready"] == 2 and mine["queues"][0]["pending"] == 1
    assert mine["queues"][0]["delayed"] == 1


def test_dead_agrees_with_the_cli(client, redis_url, forkpool_bin, tmp_path):
    dead = "fp:{default}:dead"
    client.redis.xadd(dead, {"job": '{"type":"x","args":{"big":12345678901234567890}}',
                             "error": "boom", "attempts": "3", "failed_at": "1700000000000",
                             "consumer": "host-a"})
    client.redis.xadd(dead, {"job": "not json", "error": "payload is not JSON",
                             "attempts": "1", "failed_at": "1700000000001", "consumer": "b"})
    config = write_config(tmp_path / "f.toml", redis_url)
    cli = [json.loads(line) for line in
           run_cli(forkpool_bin, config, "dead", "list", "--json").splitlines()]
    assert client.dead() == cli
    assert client.dead(limit=1) == cli[:1]
    assert cli[0]["job"]["args"]["big"] == 12345678901234567890


def test_worker_side_needs_no_redis():
    # A worker imports forkpool (and tasks) without the redis package.
    code = ("import sys; sys.modules['redis'] = None\n"
            "from forkpool import task, handler, run, Permanent\n"
            "@task(name='t')\n"
            "def t(x): return x\n"
            "assert 'forkpool.client' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env=dict(os.environ, PYTHONPATH=PYTHON_DIR))


def test_pip_installs_offline(tmp_path):
    # From a copy, so the build leaves nothing in the checkout.
    import shutil
    src = tmp_path / "src"
    shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns("tests", "__pycache__",
                                                                   "build", "*.egg-info"))
    target = tmp_path / "site"
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([sys.executable, "-m", "pip", "install", str(src), "--no-deps",
                    "--no-build-isolation", "--target", str(target)],
                   check=True, env=env, timeout=300, stdout=subprocess.PIPE)
    assert (target / "forkpool" / "py.typed").exists()
    out = subprocess.run([sys.executable, "-c", "import forkpool, forkpool.client as c; "
                          "print(forkpool.__file__, forkpool.Client is c.Client)"],
                         check=True, env=dict(os.environ, PYTHONPATH=str(target)),
                         stdout=subprocess.PIPE, timeout=60, cwd=str(tmp_path))
    where, same = out.stdout.decode().split()
    assert where.startswith(str(target)) and same == "True"


def test_package_is_typed():
    # py.typed promises annotations a checker accepts: hold the package to it.
    if subprocess.run([sys.executable, "-m", "mypy", "--version"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        pytest.skip("mypy is not installed (Debian: mypy)")
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                          "--cache-dir", os.devnull, os.path.join(PYTHON_DIR, "forkpool")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert out.returncode == 0, out.stdout.decode()
