"""A Python worker served by the real binary: `forkpool run --burst` with
pool.runtime = "exec" and `python3 -m forkpool.worker myapp`, where myapp
(written below) registers sync and async handlers and tasks. Handlers write
what they did into OUT_DIR, which the daemon's children inherit; the test
reads it back once the burst run has drained the queue. No timing."""
import importlib
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import PYTHON_DIR, write_config

APP = textwrap.dedent('''
    """myapp: the app a test worker serves."""
    import asyncio
    import json
    import os

    from forkpool import Permanent, handler, task

    def record(name, value):
        with open(os.path.join(os.environ["OUT_DIR"], name), "w") as f:
            json.dump({"value": value, "pid": os.getpid()}, f)

    @handler("square")
    def square(args):
        record("square-%d" % args["n"], args["n"] * args["n"])
        return {"square": args["n"] * args["n"]}

    @handler("slow_echo")
    async def slow_echo(args):
        await asyncio.sleep(0.01)
        record("echo-" + args["tag"], id(asyncio.get_running_loop()))
        return args

    @handler("refuse")
    def refuse(args):
        raise Permanent("no, never")

    @handler("broken")
    def broken(args):
        raise RuntimeError("out of luck")

    @task(queue="default", max_attempts=2)
    def add(x, y, scale=1):
        record("add-%d-%d" % (x, y), (x + y) * scale)
        return (x + y) * scale

    @task(name="async_add")
    async def async_add(x, y):
        await asyncio.sleep(0)
        record("async_add", x + y)
        return x + y
''')


@pytest.fixture
def app(tmp_path, monkeypatch, redis_url):
    appdir = tmp_path / "app"
    appdir.mkdir()
    (appdir / "myapp.py").write_text(APP)
    out = tmp_path / "out"
    out.mkdir()
    # The producer imports the same module: tasks enqueue from it.
    monkeypatch.syspath_prepend(str(appdir))
    monkeypatch.setenv("OUT_DIR", str(out))
    monkeypatch.setenv("FORKPOOL_REDIS_URL", redis_url)
    # forkpool.task (the module; the package's "task" is the decorator) keeps
    # the tasks' shared Client: start each test without one.
    monkeypatch.setattr(importlib.import_module("forkpool.task"), "_default_client", None)
    sys.modules.pop("myapp", None)
    yield appdir, out
    sys.modules.pop("myapp", None)


def serve(forkpool_bin, redis_url, tmp_path, appdir, out):
    config = write_config(tmp_path / "forkpool.toml", redis_url, textwrap.dedent('''
        [pool]
        runtime = "exec"
        children = 2
        command = ["%s", "-m", "forkpool.worker", "myapp"]
        [retry]
        backoff_base = "10ms"
        backoff_max = "10ms"
    ''' % sys.executable))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PYTHON_DIR, str(appdir)]),
               OUT_DIR=str(out))
    # --burst: serve until the queue is drained, then exit 0. The timeout is
    # a safety net for a hang, not a measurement.
    run = subprocess.run([forkpool_bin, "run", "--burst", "-c", config], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    log = run.stdout.decode(errors="replace")
    assert run.returncode == 0, log
    return log


def read(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def test_worker_serves_sync_async_tasks_and_failures(client, redis_url, forkpool_bin,
                                                     tmp_path, app):
    appdir, out = app
    import myapp  # its tasks enqueue with the shared Client(): FORKPOOL_REDIS_URL

    client.enqueue("square", {"n": 7})
    for tag in ("a", "b", "c", "d"):
        client.enqueue("slow_echo", {"tag": tag})
    task_id = myapp.add.delay(2, 3, scale=10)
    myapp.async_add.apply_async((4, 5))
    client.enqueue("refuse", {}, max_attempts=5)
    client.enqueue("broken", {}, max_attempts=1)
    client.enqueue("nobody_handles_this", {})
    job = json.loads(client.redis.xrange("fp:{default}:jobs")[5][1][b"job"])
    assert job == {"type": "myapp.add", "args": {"args": [2, 3], "kwargs": {"scale": 10}},
                   "max_attempts": 2}
    assert task_id == client.redis.xrange("fp:{default}:jobs")[5][0].decode()

    log = serve(forkpool_bin, redis_url, tmp_path, appdir, out)

    assert read(out, "square-7")["value"] == 49
    assert read(out, "add-2-3")["value"] == 50
    assert read(out, "async_add")["value"] == 9
    # Async handlers: one event loop per child, kept from job to job.
    loops = {}
    for tag in ("a", "b", "c", "d"):
        r = read(out, "echo-" + tag)
        loops.setdefault(r["pid"], set()).add(r["value"])
    assert all(len(v) == 1 for v in loops.values()), loops

    dead = {d["job"]["type"]: d for d in client.dead()}
    assert set(dead) == {"refuse", "broken", "nobody_handles_this"}, log
    assert dead["refuse"]["error"] == "no, never"
    assert dead["refuse"]["attempts"] == 1  # Permanent: no retry despite max_attempts 5
    assert dead["broken"]["error"] == "RuntimeError: out of luck"
    assert "no handler for job type 'nobody_handles_this'" in dead["nobody_handles_this"]["error"]
    stats = client.stats()["queues"][0]
    assert (stats["ready"], stats["pending"], stats["dead"]) == (0, 0, 3)


def test_old_helper_name_still_works(client, redis_url, forkpool_bin, tmp_path):
    # scripts/forkpool_worker.py is a shim over forkpool.worker: a worker
    # written against it runs unchanged.
    repo = os.path.dirname(PYTHON_DIR)
    out = tmp_path / "out"
    out.mkdir()
    worker = tmp_path / "old_worker.py"
    worker.write_text(textwrap.dedent('''
        import os, sys
        sys.path.insert(0, %r)
        from forkpool_worker import handler, run

        @handler("touch")
        def touch(args):
            open(os.path.join(os.environ["OUT_DIR"], args["name"]), "w").write("{}")

        run()
    ''' % os.path.join(repo, "scripts")))
    config = write_config(tmp_path / "forkpool.toml", redis_url,
                          '[pool]\nruntime = "exec"\nchildren = 1\ncommand = ["%s", "%s"]\n'
                          % (sys.executable, worker))
    client.enqueue("touch", {"name": "done"})
    run = subprocess.run([forkpool_bin, "run", "--burst", "-c", config],
                         env=dict(os.environ, OUT_DIR=str(out)), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=300)
    assert run.returncode == 0, run.stdout.decode(errors="replace")
    assert (out / "done").exists()


def test_task_options_and_refusals(client, app):
    import myapp
    from forkpool import task
    assert myapp.add(1, 2) == 3  # a task is still a plain function
    assert myapp.add.name == "myapp.add" and myapp.async_add.name == "async_add"
    myapp.add.client = client
    myapp.add.apply_async((1, 2), countdown=30)
    [(member, _)] = client.redis.zrange("fp:{default}:delayed", 0, -1, withscores=True)
    job = json.loads(member)
    assert job["type"] == "myapp.add" and job["args"] == {"args": [1, 2], "kwargs": {}}
    with pytest.raises(ValueError, match="countdown or eta"):
        myapp.add.apply_async((1, 2), countdown=1, eta=__import__("datetime").datetime.now())
    with pytest.raises(ValueError, match="negative"):
        myapp.add.apply_async((1, 2), countdown=-1)
    with pytest.raises(TypeError, match="kwargs keys"):
        myapp.add.apply_async((1,), {1: 2})
    with pytest.raises(ValueError, match="max_attempts"):
        task(max_attempts=0)(lambda: None)
    with pytest.raises(ValueError, match="give it a name"):
        def f():
            pass
        f.__module__ = "__main__"
        task(f)
    assert client.redis.zcard("fp:{default}:delayed") == 1
