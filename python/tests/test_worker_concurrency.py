"""forkpool.worker with concurrency > 1, driven over a socketpair standing in
for the daemon's end of the channel: the "ready" it sends, async jobs running
side by side (each job waits until all of them are in flight, so only a
concurrent worker can answer them), sync handlers one at a time in order,
"stop" behind running jobs, and the refusals of a bad concurrency. No
timing: a worker that does not overlap jobs fails by its answers."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from conftest import PYTHON_DIR

APP = textwrap.dedent('''
    """concapp: handlers for the concurrency tests."""
    import asyncio
    import logging

    from forkpool import handler

    in_flight = 0
    peak = 0
    order = []

    @handler("meet")
    async def meet(args):
        """Waits (up to 30 s, a safety net) until args["n"] jobs were in flight."""
        global in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3000):
            if peak >= args["n"]:
                break
            await asyncio.sleep(0.01)
        in_flight -= 1
        return {"seen": peak}

    @handler("logged")
    async def logged(args):
        """Logs once all args["n"] jobs started, so their records interleave."""
        global peak
        peak += 1
        while peak < args["n"]:
            await asyncio.sleep(0.01)
        logging.getLogger("concapp").warning("job %d", args["i"])

    @handler("step")
    def step(args):
        order.append(args["i"])
        return {"order": list(order)}
''')


class Worker:
    """A worker process on one end of a socketpair; this test holds the other."""

    def __init__(self, tmp_path, args, env=None, main=("-m", "forkpool.worker")):
        (tmp_path / "concapp.py").write_text(APP)
        self.sock, theirs = socket.socketpair()
        full_env = dict(os.environ, FORKPOOL_FD=str(theirs.fileno()),
                        PYTHONPATH=os.pathsep.join([PYTHON_DIR, str(tmp_path)]))
        full_env.update(env or {})
        self.proc = subprocess.Popen([sys.executable, *main] + args,
                                     env=full_env, pass_fds=[theirs.fileno()],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        theirs.close()
        self.sock.settimeout(60)  # a safety net for a hang, not a measurement
        self.reader = self.sock.makefile("rb")

    def send(self, msg):
        self.sock.sendall((json.dumps(msg) + "\n").encode())

    def job(self, seq, type_, args):
        self.send({"op": "job", "seq": seq, "attempt": 1, "job": {"type": type_, "args": args}})

    def read(self):
        line = self.reader.readline()
        assert line, "worker closed its channel: %s" % self.finish()
        return json.loads(line)

    def finish(self):
        out, _ = self.proc.communicate(timeout=60)
        self.reader.close()
        self.sock.close()
        return out.decode(errors="replace")


def test_async_jobs_run_side_by_side_and_stop_waits_for_them(tmp_path):
    w = Worker(tmp_path, ["--concurrency", "5", "concapp"])
    ready = w.read()
    assert ready["op"] == "ready" and ready["concurrency"] == 5
    for seq in range(1, 6):
        w.job(seq, "meet", {"n": 5})
    w.send({"op": "stop"})  # behind the jobs: they finish first
    answers = [w.read() for _ in range(5)]
    assert sorted(a["seq"] for a in answers) == [1, 2, 3, 4, 5]
    assert all(a["ok"] and a["result"]["seen"] == 5 for a in answers), answers
    assert all(a["rss_kb"] > 0 for a in answers)
    out = w.finish()
    assert w.proc.returncode == 0, out


def test_concurrency_from_the_environment_and_sync_jobs_in_order(tmp_path):
    w = Worker(tmp_path, ["concapp"], env={"FORKPOOL_CONCURRENCY": "3"})
    assert w.read()["concurrency"] == 3
    for i in range(1, 4):
        w.job(i, "step", {"i": i})
    answers = [w.read() for _ in range(3)]
    # Sync handlers run through one at a time, in the order they came.
    assert [a["seq"] for a in answers] == [1, 2, 3]
    assert answers[-1]["result"] == {"order": [1, 2, 3]}
    w.job(4, "nosuch", {})
    bad = w.read()
    assert (bad["ok"], bad["retry"]) == (False, False)
    w.sock.shutdown(socket.SHUT_WR)  # EOF: the daemon is gone
    assert w.reader.readline() == b""
    w.finish()
    assert w.proc.returncode == 0


def test_each_concurrent_job_logs_with_its_own_fields(tmp_path):
    w = Worker(tmp_path, ["--concurrency", "3", "concapp"])
    w.read()
    for i in range(3):
        w.job(10 + i, "logged", {"i": i, "n": 3})
    assert sorted(w.read()["seq"] for _ in range(3)) == [10, 11, 12]
    w.send({"op": "stop"})
    out = w.finish()
    for i in range(3):
        assert 'type=logged seq=%d attempt=1 logger=concapp msg="job %d"' % (10 + i, i) in out, out


def test_concurrency_one_says_nothing_more(tmp_path):
    w = Worker(tmp_path, ["--concurrency=1", "concapp"])
    assert "concurrency" not in w.read()
    w.send({"op": "stop"})
    w.finish()
    assert w.proc.returncode == 0


@pytest.mark.parametrize("args,env", [
    (["--concurrency", "0", "concapp"], {}),
    (["--concurrency", "1025", "concapp"], {}),
    (["--concurrency=lots", "concapp"], {}),
    (["concapp"], {"FORKPOOL_CONCURRENCY": "2.5"}),
    (["--concurrency", "4"], {}),
    (["--threads", "4", "concapp"], {}),
])
def test_bad_concurrency_is_refused_before_ready(tmp_path, args, env):
    w = Worker(tmp_path, args, env=env)
    assert w.reader.readline() == b""  # no "ready": it never served
    out = w.finish()
    assert w.proc.returncode == 64, out
    assert "usage: python3 -m forkpool.worker [--concurrency N]" in out


def test_run_refuses_a_bad_concurrency():
    from forkpool import worker
    for bad in (0, 1025, True, "x"):
        with pytest.raises(ValueError, match="whole number from 1 to 1024"):
            worker._concurrency(bad)
    assert worker._concurrency(50) == 50


@pytest.mark.parametrize("call,env", [
    ("run(0)", {}),
    ("run(True)", {}),
    ("run()", {"FORKPOOL_CONCURRENCY": "2.5"}),
])
def test_run_exits_64_on_a_bad_concurrency_as_the_module_does(tmp_path, call, env):
    w = Worker(tmp_path, [], env=env, main=("-c", "from forkpool.worker import run; " + call))
    assert w.reader.readline() == b""  # no "ready"
    out = w.finish()
    assert w.proc.returncode == 64, out
    assert "forkpool.worker: concurrency must be a whole number from 1 to 1024" in out
    assert "Traceback" not in out
