"""forkpool_worker: the Python worker helper under its old name.

    from forkpool_worker import handler, run, Permanent

The implementation is the package forkpool (python/forkpool/worker.py, the
same handler, run and Permanent); this file only finds it, so that workers
written against scripts/forkpool_worker.py keep working with one
implementation behind both names. It looks in ../python next to this file
first (a checkout), else imports an installed forkpool. New code should use
`from forkpool import handler, run, Permanent`.
"""
import os
import sys

_PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python")
if os.path.isfile(os.path.join(_PACKAGE_DIR, "forkpool", "worker.py")):
    sys.path.insert(0, os.path.normpath(_PACKAGE_DIR))

from forkpool.worker import Permanent, handler, run  # noqa: E402

__all__ = ["handler", "run", "Permanent"]
