"""async_worker.py: the concurrent exec worker of test_it_concurrency.c, on
python/forkpool/worker.py. `async_worker.py N` serves at concurrency N,
`async_worker.py badready` greets with a concurrency the protocol refuses.
Handlers write what they saw under the job's args["dir"]."""
import asyncio
import json
import os
import signal
import sys

if sys.argv[1:] == ["badready"]:
    fd = int(os.environ["FORKPOOL_FD"])
    os.write(fd, b'{"op":"ready","pid":%d,"concurrency":5000}\n' % os.getpid())
    signal.pause()  # until the daemon kills it

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from forkpool.worker import handler, run  # noqa: E402

in_flight = 0
peak = 0


@handler("asleep")
async def asleep(args):
    """Sleeps args["ms"] on the loop; records the most jobs this child had
    in flight at once in dir/peak-PID."""
    global in_flight, peak
    in_flight += 1
    peak = max(peak, in_flight)
    with open(os.path.join(args["dir"], "peak-%d" % os.getpid()), "w") as f:
        json.dump(peak, f)
    try:
        await asyncio.sleep(args.get("ms", 0) / 1000.0)
    finally:
        in_flight -= 1
    return {"peak": peak}


@handler("echo")
async def echo(args):
    return args


@handler("crash")
async def crash(args):
    await asyncio.sleep(args.get("ms", 0) / 1000.0)
    os.kill(os.getpid(), signal.SIGSEGV)


run(concurrency=int(sys.argv[1]))
