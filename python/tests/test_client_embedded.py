"""The producer on the embedded queue (Client(sqlite=PATH)): jobs enqueued
from Python run on the real daemon with `queue.backend = "sqlite"` (no
redis-server), the rows are the ones `forkpool enqueue` writes, stats, job
and dead read what the command line reads, what needs Redis is refused, and
a file that is not a forkpool queue file is refused and left byte for byte
as it was. No timing."""
import datetime
import importlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from conftest import PYTHON_DIR, REPO, timeless_stats
from forkpool import Client, NeedsRedis, QueueFileError
from forkpool.embedded import APPLICATION_ID, INSERT_SQL, SCHEMA_VERSION

APP = textwrap.dedent('''
    """embapp: the tasks a test worker serves and the test enqueues."""
    import json
    import os

    from forkpool import handler, task

    def record(name, value):
        with open(os.path.join(os.environ["OUT_DIR"], name), "w") as f:
            json.dump(value, f)

    @handler("square")
    def square(args):
        record("square-%d" % args["n"], args["n"] * args["n"])

    @task(max_attempts=2)
    def add(x, y, scale=1):
        record("add-%d-%d" % (x, y), (x + y) * scale)
''')


def write_config(tmp_path, extra=""):
    path = tmp_path / "forkpool.toml"
    path.write_text('[daemon]\nname = "pytest"\n[queue]\nbackend = "sqlite"\n[sqlite]\n'
                    'path = "%s"\n[health]\nlisten = ""\n%s' % (tmp_path / "queue.db", extra))
    return str(path)


def cli(forkpool_bin, config, *args, check=True):
    out = subprocess.run([forkpool_bin, *args, "-c", config], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=120, cwd=os.path.dirname(config))
    if check:
        assert out.returncode == 0, out.stderr.decode()
    return out


@pytest.fixture
def queue_file(tmp_path, forkpool_bin):
    """An empty queue file, made by the daemon (a burst run on nothing)."""
    config = write_config(tmp_path)
    cli(forkpool_bin, config, "run", "--burst")
    return str(tmp_path / "queue.db"), config


@pytest.fixture
def qclient(queue_file):
    c = Client(sqlite=queue_file[0])
    yield c
    c.close()


def rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, queue, payload, avail_at, owner, deliveries, enqueued_at,"
                          " typeof(payload) FROM jobs ORDER BY id").fetchall()


def test_insert_is_the_stores():
    # The row a producer writes is fp_sqlq_enqueue's: one statement, no drift.
    source = open(os.path.join(REPO, "lib", "sqlq", "open.c")).read()
    body = re.search(r'\[SQ_INSERT\] = ((?:\s*"(?:[^"\\]|\\.)*")+),', source)
    assert body is not None
    assert "".join(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body.group(1))) \
        == INSERT_SQL


def test_rows_are_what_forkpool_enqueue_writes(qclient, queue_file, forkpool_bin):
    path, config = queue_file
    cli(forkpool_bin, config, "enqueue", "--queue", "q2", "--delay", "1h", "square", '{"n":1}')
    row_id = qclient.enqueue("square", {"n": 1}, queue="q2", delay="1h")
    assert row_id == "2"  # the row id, as the command line prints it
    theirs, mine = rows(path)
    assert mine[0] == 2
    # queue, payload (as text), owner NULL, deliveries 0, due an hour after enqueued_at.
    for r in (theirs, mine):
        assert r[1] == "q2" and r[2] == '{"type":"square","args":{"n":1}}'
        assert r[4] is None and r[5] == 0 and r[7] == "text"
        assert r[3] - r[6] == 3600000


def test_jobs_run_on_the_daemon_without_redis(queue_file, forkpool_bin, tmp_path,
                                              monkeypatch):
    path, _ = queue_file
    appdir, out = tmp_path / "app", tmp_path / "out"
    appdir.mkdir()
    out.mkdir()
    (appdir / "embapp.py").write_text(APP)
    monkeypatch.syspath_prepend(str(appdir))
    # The tasks' shared Client() finds the file by the daemon's variable.
    monkeypatch.delenv("FORKPOOL_REDIS_URL", raising=False)
    monkeypatch.setenv("FORKPOOL_SQLITE_PATH", path)
    monkeypatch.setattr(importlib.import_module("forkpool.task"), "_default_client", None)
    sys.modules.pop("embapp", None)
    import embapp
    task_id = embapp.add.delay(2, 3, scale=10)
    later = embapp.add.apply_async((7, 7), countdown=3600)
    with Client(sqlite=path) as c:
        assert c.url == "sqlite:" + path
        c.enqueue("square", {"n": 7}, job_id="sq-7")
        c.enqueue_many([{"type": "square", "args": {"n": n}} for n in (2, 3)])
        assert c.job(task_id)["state"] == "ready"
        assert c.job(later)["state"] == "delayed"
    config = write_config(tmp_path, textwrap.dedent('''
        [pool]
        runtime = "exec"
        children = 2
        command = ["%s", "-m", "forkpool.worker", "embapp"]
    ''' % sys.executable))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PYTHON_DIR, str(appdir)]),
               OUT_DIR=str(out), PATH="/nonexistent")  # no redis-server to be found
    env.pop("FORKPOOL_SQLITE_PATH")
    run = subprocess.run([forkpool_bin, "run", "--burst", "-c", config], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300,
                         cwd=str(tmp_path))
    log = run.stdout.decode(errors="replace")
    assert run.returncode == 0, log
    assert "embedded SQLite" in log
    got = {name: json.loads((out / name).read_text()) for name in os.listdir(out)}
    assert got == {"add-2-3": 50, "square-7": 49, "square-2": 4, "square-3": 9}
    # The job due in an hour waits: the daemon's own view counts it delayed.
    stats = json.loads(cli(forkpool_bin, config, "stats", "--json").stdout)
    [q] = stats["queues"]
    assert (q["ready"], q["pending"], q["delayed"], q["dead"]) == (0, 0, 1, 0)


def test_eta_and_countdown_are_due_times(qclient, queue_file, forkpool_bin):
    from forkpool import task
    t = task(name="t", client=qclient)(lambda: None)
    before = int(datetime.datetime.now().timestamp() * 1000)
    t.apply_async(countdown=datetime.timedelta(minutes=5))
    t.apply_async(eta=datetime.datetime.now(datetime.timezone.utc)
                  + datetime.timedelta(hours=2))
    qclient.enqueue("t", delay="0")
    due = [r[3] for r in rows(queue_file[0])]
    assert before + 300000 <= due[0] <= before + 300000 + 60000
    assert before + 7200000 - 1000 <= due[1] <= before + 7200000 + 60000
    stats = json.loads(cli(forkpool_bin, queue_file[1], "stats", "--json").stdout)
    assert stats["queues"][0]["delayed"] == 2 and stats["queues"][0]["ready"] == 1


def test_stats_job_and_dead_agree_with_the_cli(qclient, queue_file, forkpool_bin):
    path, config = queue_file
    qclient.enqueue_many([{"type": "a"}] * 3 + [{"type": "b", "delay": "1h", "job_id": "b-1"}])
    with sqlite3.connect(path) as db:
        # One row leased to a daemon, one dead row, as the daemon writes them.
        db.execute("UPDATE jobs SET owner = 'host-a', deliveries = 1,"
                   " avail_at = avail_at + 60000 WHERE id = 1")
        db.execute("INSERT INTO dead (queue, payload, error, attempts, failed_at, consumer)"
                   " VALUES ('default', '{\"type\":\"x\",\"id\":\"x-1\"}', 'boom', 3,"
                   " 1700000000000, 'host-a')")
    theirs = json.loads(cli(forkpool_bin, config, "stats", "--json").stdout)
    mine = qclient.stats()
    assert timeless_stats(mine) == timeless_stats(theirs)
    q = mine["queues"][0]
    assert (q["ready"], q["pending"], q["delayed"], q["dead"]) == (2, 1, 1, 1)
    dead = [json.loads(line) for line in
            cli(forkpool_bin, config, "dead", "list", "--json").stdout.splitlines()]
    assert qclient.dead() == dead and dead[0]["error"] == "boom"
    for job_id in ("1", "2", "b-1", "x-1"):
        theirs = json.loads(cli(forkpool_bin, config, "job", job_id, "--json").stdout)
        mine = qclient.job(job_id)
        assert {k: theirs[k] for k in mine if k != "idle_ms"} == \
            {k: v for k, v in mine.items() if k != "idle_ms"}
    assert [qclient.job(i)["state"] for i in ("1", "2", "b-1", "x-1")] == \
        ["running", "ready", "delayed", "dead"]
    assert qclient.job("nothing") is None


def test_what_needs_redis_is_refused(qclient, queue_file):
    calls = [
        lambda: qclient.enqueue("t", wait_replicas=1),
        lambda: qclient.enqueue("t", unique="k", wait_replicas=1),
        lambda: qclient.enqueue_unique("t", unique="k", wait_replicas=1),
        lambda: qclient.enqueue_many([{"type": "t"}], wait_replicas=1),
    ]
    for call in calls:
        with pytest.raises(NeedsRedis, match=r"needs Redis \(the embedded queue has no "
                                             r"replicas\)"):
            call()
    from forkpool import task
    t = task(name="t", client=qclient)(lambda: None)
    with pytest.raises(NeedsRedis, match="has no replicas"):
        t.apply_async(wait_replicas=1)
    assert rows(queue_file[0]) == []


def unique_keys(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT space, key, value FROM kv WHERE space LIKE 'unique:%'"
                          " ORDER BY space, key").fetchall()


def test_unique_jobs_on_the_file(qclient, queue_file, forkpool_bin):
    path, config = queue_file
    first, dup = qclient.enqueue_unique("noop", {"n": 1}, unique="order-17")
    assert not dup
    assert qclient.enqueue_unique("noop", {"n": 2}, unique="order-17") == (first, True)
    assert qclient.enqueue("noop", unique="order-17") == first
    # A key is per queue; the command line sees the same keys.
    other, dup = qclient.enqueue_unique("noop", unique="order-17", queue="mail", job_id=7)
    assert (other, dup) == ("7", False)
    line = json.loads(cli(forkpool_bin, config, "enqueue", "--json", "--unique", "order-17",
                          "noop").stdout)
    assert line == {"duplicate": True, "id": first}
    assert unique_keys(path) == [("unique:default", "order-17", first),
                                 ("unique:mail", "order-17", "7")]
    [job] = [json.loads(r[2]) for r in rows(path) if r[1] == "default"]
    assert job["unique"] == {"key": "order-17", "until": "done"} and job["id"] == first
    # The daemon's success releases the key; the next job takes it.
    cli(forkpool_bin, config, "run", "--burst")
    assert unique_keys(path) == [("unique:mail", "order-17", "7")]
    again, dup = qclient.enqueue_unique("noop", unique="order-17")
    assert not dup and again != first
    # An expired key is taken over.
    qclient.enqueue_unique("noop", unique="brief", unique_for=0.05)
    import time
    deadline = time.monotonic() + 60
    while qclient.enqueue_unique("noop", unique="brief")[1]:
        assert time.monotonic() < deadline
    assert len([r for r in rows(path) if "brief" in r[2]]) == 2


def test_bad_input_adds_nothing(qclient, queue_file):
    with pytest.raises(ValueError, match="^job 1: .*delay must not be negative"):
        qclient.enqueue_many([{"type": "fine"}, {"type": "t", "delay": -1}])
    assert rows(queue_file[0]) == []


def _database(path, *pragmas):
    with sqlite3.connect(str(path)) as db:
        for p in pragmas:
            db.execute(p)
        db.execute("CREATE TABLE users (name TEXT)")
        db.executemany("INSERT INTO users VALUES (?)", [("x" * 1000,)] * 20)
    db.close()
    return path


def _foreign_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 20)
    plain = _database(tmp_path / "app.db")
    newer = _database(tmp_path / "newer.db", "PRAGMA application_id=%d" % APPLICATION_ID,
                      "PRAGMA user_version=%d" % (SCHEMA_VERSION + 1))
    # Ours by its identity, but cut short (a partial copy): only the header's
    # page count tells.
    cut = tmp_path / "cut.db"
    ours = _database(tmp_path / "ours.db", "PRAGMA application_id=%d" % APPLICATION_ID,
                     "PRAGMA user_version=1")
    cut.write_bytes(ours.read_bytes()[:3 * 4096])
    ours.unlink()
    return [(text, "not an SQLite database"), (plain, "of another application"),
            (newer, "written by a newer forkpool"), (cut, "truncated: the header counts")]


def test_foreign_files_are_refused_and_left_as_they_were(tmp_path):
    for path, reason in _foreign_files(tmp_path):
        before = path.read_bytes()
        with pytest.raises(QueueFileError, match=reason) as e:
            Client(sqlite=str(path))
        assert e.value.path == str(path) and "left as it was" in str(e.value)
        assert path.read_bytes() == before, path
    assert sorted(os.listdir(tmp_path)) == ["app.db", "cut.db", "newer.db", "notes.txt"]


def test_a_foreign_wal_database_is_not_checkpointed(tmp_path):
    # Closing the last connection to a WAL database copies its -wal into it:
    # the check must not be such a connection. A copy of a database and its
    # -wal taken while its writer was open is such a pair, with no writer.
    live, path = tmp_path / "live.db", tmp_path / "wal.db"
    keep = sqlite3.connect(str(live))
    keep.execute("PRAGMA journal_mode=WAL")
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("CREATE TABLE t (x)")
    keep.execute("INSERT INTO t VALUES (1)")
    keep.commit()
    for suffix in ("", "-wal"):
        (tmp_path / ("wal.db" + suffix)).write_bytes((tmp_path / ("live.db" + suffix))
                                                    .read_bytes())
    keep.close()
    assert (tmp_path / "wal.db-wal").stat().st_size > 0
    before = path.read_bytes()
    with pytest.raises(QueueFileError, match="of another application"):
        Client(sqlite=str(path))
    assert path.read_bytes() == before


def test_a_missing_or_empty_file_is_not_created(tmp_path):
    missing = tmp_path / "nowhere.db"
    with pytest.raises(QueueFileError, match="no embedded queue at .*nowhere.db: start the "
                                             "daemon or run `forkpool enqueue` once"):
        Client("sqlite:" + str(missing))
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(QueueFileError, match="no embedded queue"):
        Client(sqlite=str(empty))
    assert empty.read_bytes() == b"" and sorted(os.listdir(tmp_path)) == ["empty.db"]


def test_the_embedded_queue_needs_no_redis_package(queue_file):
    code = ("import sys; sys.modules['redis'] = None\n"
            "from forkpool import Client\n"
            "c = Client(sys.argv[1])\n"
            "print(c.enqueue('t', {'n': 1}))\n")
    out = subprocess.run([sys.executable, "-c", code, "sqlite:" + queue_file[0]], check=True,
                         timeout=60, stdout=subprocess.PIPE,
                         env=dict(os.environ, PYTHONPATH=PYTHON_DIR))
    assert out.stdout.decode().strip() == "1"


def test_url_or_sqlite_not_both(queue_file):
    with pytest.raises(ValueError, match="not both"):
        Client("redis://127.0.0.1:1/0", sqlite=queue_file[0])
    with pytest.raises(ValueError, match="for Redis"):
        Client(sqlite=queue_file[0], tls_ca="ca.crt")


def test_the_connection_has_the_stores_settings(qclient):
    db = qclient.store.conn
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_threads_share_one_client(qclient, queue_file):
    # A threaded web app shares its Client: each transaction is one thread's.
    import threading
    errors = []

    def produce(t):
        try:
            for i in range(50):
                qclient.enqueue("t", {"t": t, "i": i})
            qclient.enqueue_many([{"type": "t", "args": {"t": t, "i": 50 + i}} for i in range(5)])
            qclient.stats()
        except Exception as e:  # the test's answer, not swallowed
            errors.append(repr(e))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(rows(queue_file[0])) == 8 * 55


def test_a_forked_child_opens_its_own_connection(qclient, queue_file):
    # SQLite connections must not cross a fork (a pre-forking web server that
    # made the Client before forking): the child's first call reopens.
    qclient.enqueue("before")
    parent = qclient.store.conn
    pid = os.fork()
    if pid == 0:
        try:
            qclient.enqueue("child")
            os._exit(0 if qclient.store.conn is not parent else 3)
        finally:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    qclient.enqueue("after")
    assert qclient.store.conn is parent
    assert [json.loads(r[2])["type"] for r in rows(queue_file[0])] == ["before", "child", "after"]
