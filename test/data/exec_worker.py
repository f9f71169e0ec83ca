"""exec_worker.py: the exec-runtime worker of test_it_exec.c, on
scripts/forkpool_worker.py. `exec_worker.py exit` leaves at once (a broken
deployment); otherwise it serves the handlers below."""
import sys

if sys.argv[1:] == ["exit"]:  # before any import: as quick as Python gets
    sys.exit(3)
if sys.argv[1:] == ["noready"]:  # starts, but never says "ready"
    import time
    while True:
        time.sleep(3600)

import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from forkpool_worker import Permanent, handler, run  # noqa: E402

FD = int(os.environ["FORKPOOL_FD"])


@handler("echo")
def echo(args):
    return args


@handler("noop")
def noop(args):
    return None


@handler("sleep")
def sleep(args):
    time.sleep(args.get("ms", 0) / 1000.0)
    return {"slept_ms": args.get("ms", 0)}


@handler("gate")
def gate(args):
    """Keeps its child busy until the file args["path"] exists."""
    while not os.path.exists(args["path"]):
        time.sleep(0.01)
    return None


@handler("gate_crash")
def gate_crash(args):
    """Crashes its child (SIGSEGV) once the file args["path"] exists."""
    while not os.path.exists(args["path"]):
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGSEGV)


@handler("term_proof")
def term_proof(args):
    """Ignores SIGTERM, then, once the file args["path"] exists, its child
    exits 1: a job that outlives its timeout's TERM for as long as the test
    wants."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while not os.path.exists(args["path"]):
        time.sleep(0.01)
    os._exit(1)


@handler("fail")
def fail(args):
    if args.get("retry", True):
        raise RuntimeError(args.get("message", "failed"))
    raise Permanent(args.get("message", "failed"))


@handler("crash")
def crash(args):
    os.kill(os.getpid(), signal.SIGSEGV)


def hang():
    while True:
        time.sleep(3600)


@handler("balloon")
def balloon(args):
    """Touches args["mb"] MB and frees it: the peak RSS rises, the current falls back."""
    buf = b"\x01" * (args.get("mb", 200) << 20)
    del buf
    return None


@handler("garbage")
def garbage(args):
    os.write(FD, b"this is not json\n{\"op\":\"bogus\"}\n")
    hang()


@handler("wrongseq")
def wrongseq(args):
    os.write(FD, b'{"op":"done","seq":987654321,"ok":true,"rss_kb":1}\n')
    hang()


@handler("nan")
def nan(args):
    """A done line as json.dumps writes it by default: NaN is not JSON."""
    os.write(FD, b'{"op":"done","seq":1,"ok":true,"result":NaN,"rss_kb":1}\n')
    hang()


@handler("nanresult")
def nanresult(args):
    return {"ratio": float("nan")}


@handler("longline")
def longline(args):
    return "x" * args.get("bytes", 2 << 20)  # the done line exceeds the limit


@handler("say")
def say(args):
    print(args.get("text", ""))
    print("on stderr: " + args.get("text", ""), file=sys.stderr)
    return None


@handler("env")
def env(args):
    """Prints the worker's environment, one "env: NAME=value" line each."""
    for name in sorted(os.environ):
        print("env: %s=%s" % (name, os.environ[name]))
    return None


@handler("record")
def record(args):
    """Records args["id"] in the SQLite file args["db"] (table events)."""
    import sqlite3
    db = sqlite3.connect(args["db"], timeout=60)
    with db:
        db.execute("CREATE TABLE IF NOT EXISTS events (object_id TEXT)")
        db.execute("INSERT INTO events (object_id) VALUES (?)", (args["id"],))
    db.close()
    return None


@handler("span")
def span(args):
    """Appends "start ID T" and, after args["ms"], "stop ID T" to the file
    args["file"] (T: CLOCK_MONOTONIC ns, one clock for every process on the
    host; one O_APPEND write per line, so lines never interleave)."""
    fd = os.open(args["file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, ("start %s %d\n" % (args["id"], time.monotonic_ns())).encode())
        time.sleep(args.get("ms", 0) / 1000.0)
        os.write(fd, ("stop %s %d\n" % (args["id"], time.monotonic_ns())).encode())
    finally:
        os.close(fd)
    return None


@handler("span_free")
def span_free(args):
    """span under a type no limit names."""
    return span(args)


@handler("closefd")
def closefd(args):
    """Closes the channel while holding the job, then lingers."""
    os.close(FD)
    hang()


@handler("grandchild")
def grandchild(args):
    """Leaves a shell and its sleep behind (marked by args["marker"]), then
    hangs until the supervisor gives up on the job."""
    import subprocess
    subprocess.Popen(["sh", "-c", "sleep 1000; :", args["marker"]])
    hang()


def _mark(args, what):
    with open(args["marker"] + "." + what, "w") as f:
        f.write(what)


@handler("await_cancel")
async def await_cancel(args):
    """Waits to be cancelled; marks what it saw (asyncio.CancelledError)."""
    import asyncio
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        _mark(args, "cancelled_error")
        raise


@handler("block_cancel")
def block_cancel(args):
    """Blocks to be cancelled; marks what it saw (forkpool.Cancelled)."""
    from forkpool import Cancelled
    try:
        time.sleep(3600)
    except Cancelled:
        _mark(args, "cancelled")
        raise


run()
