"""Structured worker logging (forkpool.log): the logfmt line and its
escaping, the job's fields from the context (also in asyncio tasks), an app's
own logging left alone, and a handler's record arriving in the daemon's log
as "child N: ..." with its job's fields, served by the real binary."""
import asyncio
import io
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import PYTHON_DIR, write_config
from forkpool import log


def record(msg, *args, level=logging.WARNING, exc_info=None, name="myapp"):
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def test_a_record_is_one_logfmt_line_with_the_job_fields():
    f = log.LogfmtFormatter()
    assert f.format(record("plain")) == 'level=warning logger=myapp msg="plain"'
    with log.job_context(7, {"type": "resize", "id": "j-1", "args": {}}):
        assert log.current_job() == {"type": "resize", "id": "j-1", "seq": 7, "attempt": 1}
        assert (f.format(record("w=%d", 3))
                == 'level=warning type=resize id=j-1 seq=7 attempt=1 logger=myapp msg="w=3"')
    assert log.current_job() is None
    # A retried job carries its earlier attempts; no id: no id field.
    with log.job_context(8, {"type": "t", "attempt": 2}):
        assert f.format(record("x", level=logging.INFO)) == \
            'level=info type=t seq=8 attempt=3 logger=myapp msg="x"'


def test_values_cannot_break_the_line_or_fake_a_key():
    f = log.LogfmtFormatter()
    with log.job_context(1, {"type": "a b", "id": 'x" evil=1'}):
        line = f.format(record('two\nlines "quoted" \\ tab\t\x01'))
    assert "\n" not in line
    assert line == ('level=warning type="a b" id="x\\" evil=1" seq=1 attempt=1 logger=myapp '
                    'msg="two\\nlines \\"quoted\\" \\\\ tab\\t\\x01"')
    try:
        raise ValueError("bad")
    except ValueError:
        line = f.format(record("failed", exc_info=sys.exc_info()))
    assert "\n" not in line and 'exc="Traceback' in line and "ValueError: bad" in line


def test_async_tasks_keep_their_own_job():
    f = log.LogfmtFormatter()

    async def job(seq):
        with log.job_context(seq, {"type": "fetch", "id": "j-%d" % seq}):
            await asyncio.sleep(0)  # the other job runs here
            return f.format(record("done"))

    async def both():
        return await asyncio.gather(job(1), job(2))
    one, two = asyncio.run(both())
    assert "id=j-1 seq=1" in one and "id=j-2 seq=2" in two


def test_configure_leaves_an_apps_logging_alone(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert log.configure() is True
    logging.getLogger("myapp").info("hello")
    assert err.getvalue() == 'level=info logger=myapp msg="hello"\n'
    mine = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(root, "handlers", [mine])
    assert log.configure() is False
    assert root.handlers == [mine]


APP = textwrap.dedent('''
    import asyncio
    import logging

    from forkpool import handler

    logger = logging.getLogger(__name__)

    @handler("resize")
    def resize(args):
        logger.warning("resizing %s", args["name"])

    @handler("fetch")
    async def fetch(args):
        await asyncio.sleep(0)
        logger.info("fetched %s", args["url"])
''')


def test_handler_records_reach_the_daemon_log(client, redis_url, forkpool_bin, tmp_path):
    appdir = tmp_path / "app"
    appdir.mkdir()
    (appdir / "logapp.py").write_text(APP)
    client.enqueue("resize", {"name": "cat.png"}, job_id="j-1")
    client.enqueue("fetch", {"url": "http://x/"}, job_id=42)
    config = write_config(tmp_path / "forkpool.toml", redis_url, textwrap.dedent('''
        [pool]
        runtime = "exec"
        children = 1
        command = ["%s", "-m", "forkpool.worker", "logapp"]
    ''' % sys.executable))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PYTHON_DIR, str(appdir)]))
    run = subprocess.run([forkpool_bin, "run", "--burst", "-c", config], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = run.stdout.decode(errors="replace")
    assert run.returncode == 0, out
    lines = [line for line in out.splitlines() if "logger=logapp" in line]
    assert len(lines) == 2, out
    assert lines[0].endswith('child 0: level=warning type=resize id=j-1 seq=1 attempt=1 '
                             'logger=logapp msg="resizing cat.png"'), lines[0]
    assert lines[1].endswith('child 0: level=info type=fetch id=42 seq=2 attempt=1 '
                             'logger=logapp msg="fetched http://x/"'), lines[1]


@pytest.fixture(autouse=True)
def _no_job_left():
    yield
    assert log.current_job() is None
