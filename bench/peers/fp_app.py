"""forkpool's Python worker in the side-by-side benchmark: the workloads as
forkpool.worker handlers, served by `python3 -m forkpool.worker [--concurrency
N] fp_app` (pool.runtime = "exec"; see bench/compare.sh). Sync `noop` and
`sleep` run one job at a time per child, as Celery's prefork pool does;
`asleep` awaits asyncio.sleep, for a worker at concurrency 50 beside Celery's
gevent and eventlet pools."""
import asyncio
import time

from forkpool import handler


@handler("noop")
def noop(args):
    return None


@handler("sleep")
def sleep(args):
    time.sleep(args["ms"] / 1000.0)


@handler("asleep")
async def asleep(args):
    await asyncio.sleep(args["ms"] / 1000.0)
