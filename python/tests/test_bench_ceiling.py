"""bench/ceiling_redis against a real redis-server: both of its ways (the
daemon's own outcome script with the pull behind it, and the plain
yardstick) drain a small queue that `forkpool enqueue` filled and leave it
empty. The tool encodes the script's arguments with the daemon's code but
passes them itself, so a change to the script's arguments that the tool
does not follow is caught here rather than in `scripts/bench.sh --steer`."""
import os
import subprocess

import pytest
import redis

from conftest import write_config

JOBS_KEY = "fp:{default}:jobs"


def _tool(forkpool_bin):
    path = os.path.join(os.path.dirname(forkpool_bin), "ceiling_redis")
    if not os.access(path, os.X_OK):
        pytest.skip("no ceiling_redis beside the forkpool binary")
    return path


def _fields(line):
    return dict(kv.split("=", 1) for kv in line.split())


@pytest.mark.parametrize("mode,depth", [("script", 2), ("plain", 1)])
def test_ceiling_drains_the_queue(tmp_path, redis_url, forkpool_bin, mode, depth):
    r = redis.Redis.from_url(redis_url)
    r.flushall()
    cfg = write_config(tmp_path / "c.toml", redis_url)
    subprocess.run([forkpool_bin, "enqueue", "-c", cfg, "--count", "300", "noop", "{}"],
                   check=True, stdout=subprocess.DEVNULL)
    port = r.connection_pool.connection_kwargs["port"]
    out = subprocess.run([_tool(forkpool_bin), "-p", str(port), "-k", JOBS_KEY, "-g", "forkpool",
                          "-c", "pytest", "-b", "68", "-m", mode, "-d", str(depth)],
                         check=True, capture_output=True, text=True, timeout=60)
    f = _fields(out.stdout.strip())
    assert f["jobs"] == "300", out
    assert r.xlen(JOBS_KEY) == 0
    assert r.xpending(JOBS_KEY, "forkpool")["pending"] == 0
