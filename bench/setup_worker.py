"""setup_worker.py: an exec worker whose set-up costs SETUP_MS (50)
milliseconds, paid at import time (once per child: the default) or on every
job (SETUP_WHERE=job), for scripts/bench.sh --setup."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forkpool_worker import handler, run  # noqa: E402

COST = int(os.environ.get("SETUP_MS", "50")) / 1000.0
PER_JOB = os.environ.get("SETUP_WHERE") == "job"
if not PER_JOB:
    time.sleep(COST)


@handler("setup_cost")
def setup_cost(args):
    if PER_JOB:
        time.sleep(COST)
    return None


if __name__ == "__main__":
    run()
