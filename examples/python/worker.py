"""worker.py: the smallest forkpool exec worker, on scripts/forkpool_worker.py.

From the repository's root (the paths below are relative to it):

    [pool]
    runtime = "exec"
    command = ["python3", "examples/python/worker.py"]

then `forkpool enqueue square '{"n": 12}'` runs it. The helper is a library
that ignores argv: a worker is a program of its own that registers handlers
and calls run(), as this one does.
"""
import os
import sys

# The helper ships in scripts/; a deployment copies it next to its worker or
# puts its directory on PYTHONPATH instead.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from forkpool_worker import Permanent, handler, run  # noqa: E402


@handler("square")
def square(args):
    if not isinstance(args.get("n"), int):
        raise Permanent("args.n must be an integer")  # fails for good, no retry
    return {"square": args["n"] * args["n"]}


run()
