"""forkpool.worker and the daemon's "cancel" line, over a socketpair standing
in for the daemon: a concurrent worker cancels the job's task at once (its
async handler sees asyncio.CancelledError); a worker running jobs in order
reads no line while a job runs, so the daemon's SIGTERM after the grace is
what stops it: with the cancel line waiting, a sync handler sees
forkpool.Cancelled and an async one asyncio.CancelledError, the answer is
failed with retry false and error "cancelled", and the worker exits 0;
without it, SIGTERM ends the worker as before. Handlers write marker files;
waits are conditions, never durations."""
import json
import os
import signal
import textwrap
import time

import pytest

from test_worker_concurrency import Worker

APP = textwrap.dedent('''
    """cancelapp: handlers that wait to be cancelled, leaving markers."""
    import asyncio
    import os
    import time

    import forkpool
    from forkpool import handler

    def mark(args, what):
        with open(os.path.join(args["dir"], what), "w") as f:
            f.write(what)

    @handler("await_cancel")
    async def await_cancel(args):
        mark(args, "started")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            mark(args, "saw-cancelled-error")
            raise

    @handler("block")
    def block(args):
        mark(args, "started")
        try:
            time.sleep(3600)
        except forkpool.Cancelled:
            mark(args, "saw-cancelled")
            raise
''')


def start(tmp_path, args):
    (tmp_path / "cancelapp.py").write_text(APP)
    w = Worker(tmp_path, args)
    assert w.read()["op"] == "ready"
    return w


def wait_for(path):
    for _ in range(6000):  # a safety net for a hang (60 s), not a measurement
        if path.exists():
            return
        time.sleep(0.01)
    raise AssertionError("%s never appeared" % path)


def assert_cancelled(answer, seq):
    assert answer["op"] == "done" and answer["seq"] == seq
    assert (answer["ok"], answer["retry"], answer["error"]) == (False, False, "cancelled")


def test_concurrent_async_job_is_cancelled_at_the_line(tmp_path):
    w = start(tmp_path, ["--concurrency", "2", "cancelapp"])
    w.job(1, "await_cancel", {"dir": str(tmp_path)})
    wait_for(tmp_path / "started")
    w.send({"op": "cancel", "seq": 99})  # no such job: ignored
    w.send({"op": "cancel", "seq": 1})
    assert_cancelled(w.read(), 1)
    assert (tmp_path / "saw-cancelled-error").exists()
    w.send({"op": "stop"})
    out = w.finish()
    assert w.proc.returncode == 0, out


@pytest.mark.parametrize("type_, seen", [("block", "saw-cancelled"),
                                         ("await_cancel", "saw-cancelled-error")])
def test_in_order_job_sees_the_cancel_on_term(tmp_path, type_, seen):
    w = start(tmp_path, ["cancelapp"])
    w.job(1, type_, {"dir": str(tmp_path)})
    wait_for(tmp_path / "started")
    w.send({"op": "cancel", "seq": 1})
    os.kill(w.proc.pid, signal.SIGTERM)  # the daemon's, after pool.kill_grace
    assert_cancelled(w.read(), 1)
    assert (tmp_path / seen).exists()
    out = w.finish()
    assert w.proc.returncode == 0, out


def test_term_without_a_cancel_ends_the_worker(tmp_path):
    w = start(tmp_path, ["cancelapp"])
    w.job(1, "block", {"dir": str(tmp_path)})
    wait_for(tmp_path / "started")
    w.send({"op": "cancel", "seq": 7})  # for another job: not this one's
    os.kill(w.proc.pid, signal.SIGTERM)  # a timeout's, or a shutdown's
    w.proc.wait(timeout=60)
    w.finish()
    assert w.proc.returncode == -signal.SIGTERM
    assert not (tmp_path / "saw-cancelled").exists()


def test_in_order_job_cancelled_in_the_channel_never_runs(tmp_path):
    w = start(tmp_path, ["cancelapp"])
    # One write: the worker reads the job and its cancel together (it was
    # cancelled while it waited in the channel behind another job).
    job = {"op": "job", "seq": 1, "attempt": 1,
           "job": {"type": "block", "args": {"dir": str(tmp_path)}}}
    w.sock.sendall((json.dumps(job) + "\n" + json.dumps({"op": "cancel", "seq": 1}) + "\n")
                   .encode())
    assert_cancelled(w.read(), 1)
    assert not (tmp_path / "started").exists()
    # The worker serves on: the next job runs, and a cancel line behind it
    # for another job stops nothing.
    w.job(2, "await_cancel", {"dir": str(tmp_path)})
    wait_for(tmp_path / "started")
    w.send({"op": "cancel", "seq": 2})
    os.kill(w.proc.pid, signal.SIGTERM)  # the daemon's, after pool.kill_grace
    assert_cancelled(w.read(), 2)
    out = w.finish()
    assert w.proc.returncode == 0, out
