"""Fixtures: a real redis-server on a free 127.0.0.1 port in a temp dir
(stopped at the end), a client against it, and the forkpool binary
(FORKPOOL_BIN, default build/forkpool of this checkout)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(PYTHON_DIR)
sys.path.insert(0, PYTHON_DIR)  # the package under test, not an installed one


def c_string(path, name):
    """The text of the C constant `const char NAME[] = "..." "...";` in the
    repository file path (its adjacent literals joined, escapes decoded), for
    the tests that keep the Python copies of the C scripts equal to them."""
    source = open(os.path.join(REPO, path)).read()
    rest = source.split("const char %s[] =" % name, 1)[1]
    body = re.match(r'\s*((?:"(?:[^"\\]|\\.)*"\s*)+);', rest)
    assert body is not None, "%s is not a string constant in %s" % (name, path)
    return "".join(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body.group(1)))


def timeless_stats(doc):
    """A `forkpool stats --json` document (or Client.stats()) without what
    moves with the clock (now, ages, idle times) or is the CLI's alone (the
    fleet), for comparing the two."""
    doc.pop("fleet", None)
    doc.pop("now_ms")
    for q in doc["queues"]:
        q.pop("oldest_ready_age_ms")
        for c in q["consumers"]:
            c.pop("idle_ms")
    return doc


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(d, *extra):
    """A redis-server on a free 127.0.0.1 port in directory d, with extra
    arguments (e.g. "--replicaof", host, port); returns (process, port)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    # A port found free may be taken before redis binds it: try a few.
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port),
                                 "--save", "", "--appendonly", "no", "--dir", str(d), *extra],
                                stdout=open(d / "redis.log", "ab"), stderr=subprocess.STDOUT)
        for _ in range(500):
            if proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.01)
        if proc.poll() is None:
            return proc, port
    pytest.fail("redis-server did not start: %s" % (d / "redis.log").read_text())


def stop_redis(proc):
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    proc, port = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield "redis://127.0.0.1:%d/0" % port
    finally:
        stop_redis(proc)


@pytest.fixture
def client(redis_url):
    from forkpool import Client
    c = Client(redis_url)
    c.redis.flushall()
    yield c
    c.close()


@pytest.fixture(scope="session")
def forkpool_bin():
    path = os.environ.get("FORKPOOL_BIN")
    if path:
        assert os.access(path, os.X_OK), "FORKPOOL_BIN=%s is not executable" % path
        return path
    path = os.path.join(REPO, "build", "forkpool")
    if not os.access(path, os.X_OK):
        pytest.skip("no forkpool binary: build it or set FORKPOOL_BIN")
    return path


def write_config(path, redis_url, extra=""):
    path.write_text('[daemon]\nname = "pytest"\n[redis]\nurl = "%s"\n[health]\nlisten = ""\n%s'
                    % (redis_url, extra))
    return str(path)
