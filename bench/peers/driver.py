#!/usr/bin/env python3
"""driver.py: the side-by-side benchmark's measuring loop, called by
bench/compare.sh (which installs the peers, starts the private
redis-server and builds forkpool). Standard library only: it speaks RESP
itself, so it needs none of the peers' packages and adds nothing to them.

For one system, every case, RUNS runs each:
  1. start-up: an empty queue, the worker launched, the time until its ready
     signal (forkpool: the "pool ready" line, logged once all children have
     said ready; Celery: its worker_ready signal; RQ: all 4 workers' "Listening
     on" line; BullMQ: Worker.waitUntilReady()); then it is stopped.
  2. pre-fill with the system's own enqueue API (not timed).
  3. processing: the worker launched again under /usr/bin/time; every 10 ms
     the driver reads the broker's own keys (no per-job work is added) until
     all jobs are finished; processing = launch-to-finished minus the start-up
     of step 1. forkpool measures its own busy time (first pull to last
     outcome, the "stopped:" line): that is the figure kept for forkpool, and
     the launch-based one is logged beside it as a cross-check.
     CPU = user+sys of all worker processes (GNU time counts the children the
     worker reaped); memory = peak over samples of the summed Pss
     (/proc/PID/smaps_rollup) of every process in the worker's tree, taken
     every 250 ms, when the run's own ready signal shows and when all jobs are
     done (so that a run shorter than 250 ms is sampled too).
Each run appends: system, case, jobs, processing_s, startup_s, cpu_s, pss_kb.
A case that fails (no ready signal, jobs failed, workers exited early...)
appends one line instead: system, case, jobs, "failed: <reason>"; its workers
are killed and the driver goes on with the next case, so that one peer's
failure shows in the tables rather than ending the comparison.
"""
import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

POLL_S = 0.010
CONCURRENCY = 50  # jobs at once per worker process for the async/green rows
PSS_EVERY_S = 0.25
EVENT_ARGS = {"action": "login", "timestamp": "2026-11-22T10:00:00Z", "org_id": "o1",
              "user_id": "u1", "object_id": "x", "object_type": "session"}


class Redis:
    """Just enough of a RESP client for counters and FLUSHALL."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")

    def pipeline(self, *cmds):
        out = []
        for cmd in cmds:
            out.append(b"*%d\r\n" % len(cmd))
            for arg in cmd:
                arg = str(arg).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self.sock.sendall(b"".join(out))
        return [self._read() for _ in cmds]

    def __call__(self, *cmd):
        return self.pipeline(cmd)[0]

    def _read(self):
        line = self.rfile.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rfile.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError("redis: unexpected reply %r" % line)


# ---------------------------------------------------------------- processes

def tree(roots):
    """Every live pid under (and including) roots, from /proc/PID/task/*/children."""
    seen, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                try:
                    with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                        todo.extend(int(c) for c in f.read().split())
                except OSError:
                    pass
        except OSError:
            pass
    return seen


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ---------------------------------------------------------------- systems

class System:
    """One system under test. workers(): [(argv, env, log)] launched side by
    side; ready(logs); done(redis, jobs); burst: exits by itself when done."""
    burst = False
    key = name = ""

    def __init__(self, opt):
        self.opt = opt
        self.work = opt.work
        self.db = os.path.join(opt.work, "events.db")
        self.env = dict(os.environ, BENCH_DB=self.db, BENCH_REDIS_PORT=str(opt.port),
                        BENCH_REDIS_URL="redis://127.0.0.1:%d/0" % opt.port)

    def log(self, i):
        return os.path.join(self.work, "%s.%d.log" % (self.key, i))


class Forkpool(System):
    burst = True

    def __init__(self, opt, prefetch, pipeline):
        """prefetch None: the defaults (no prefetch or pipeline key: the
        adaptive hold and send-ahead, docs/steering.md)."""
        super().__init__(opt)
        self.prefetch = prefetch
        if prefetch is None:
            self.key, self.name, keys = "forkpool-auto", "forkpool (defaults)", ""
        else:
            self.key = "forkpool-p%d" % prefetch + ("q%d" % pipeline if pipeline else "")
            self.name = "forkpool (prefetch %d%s)" % (
                prefetch, ", pipeline %d" % pipeline if pipeline else "")
            keys = "prefetch = %d\npipeline = %d\n" % (prefetch, pipeline)
        self.cfg = os.path.join(self.work, "%s.toml" % self.key)
        with open(self.cfg, "w") as f:
            f.write('[daemon]\nname = "bench"\n[redis]\nurl = "redis://127.0.0.1:%d/0"\n'
                    '[pool]\nchildren = 4\n%s[health]\nlisten = ""\n'
                    '[handlers.record_event]\ndatabase = "%s"\n'
                    % (opt.port, keys, self.db))

    def enqueue(self, kind, args, n):
        subprocess.run([self.opt.forkpool, "enqueue", "-c", self.cfg, "--count", str(n), kind,
                        json.dumps(args)], check=True, stdout=subprocess.DEVNULL)

    def workers(self, startup):
        argv = [self.opt.forkpool, "run", "-c", self.cfg] + ([] if startup else ["--burst"])
        return [(argv, self.env, self.log(0))]

    def ready(self, logs):
        return "pool ready" in logs[0]

    def queued(self, r):
        return r("XLEN", "fp:{default}:jobs")

    def done(self, r, jobs):
        # Success is XACK + XDEL in one step: the stream empties only when all ran.
        return r("XLEN", "fp:{default}:jobs") == 0

    def own_busy(self, logs):
        for line in logs[0].splitlines():
            if "stopped:" in line and " busy " in line:
                n = int(line.split("stopped:")[1].split()[0])
                return n, float(line.split(" busy ")[1].split()[0])
        return None, None


class ForkpoolPython(Forkpool):
    """forkpool with the exec runtime and its Python worker (fp_app.py): 4
    children, each running one job at a time, or `concurrency` async jobs."""

    def __init__(self, opt, concurrency):
        System.__init__(self, opt)
        self.key = "forkpool-py" + ("-c%d" % concurrency if concurrency > 1 else "")
        self.name = "forkpool (Python worker%s)" % (
            ", async, concurrency %d" % concurrency if concurrency > 1 else "")
        self.cfg = os.path.join(self.work, "%s.toml" % self.key)
        command = [opt.python_peer, "-m", "forkpool.worker", "--concurrency", str(concurrency),
                   "fp_app"]
        with open(self.cfg, "w") as f:
            f.write('[daemon]\nname = "bench"\n[redis]\nurl = "redis://127.0.0.1:%d/0"\n'
                    '[pool]\nruntime = "exec"\nchildren = 4\ncommand = %s\n[health]\nlisten = ""\n'
                    % (opt.port, json.dumps(command)))
        self.env["PYTHONPATH"] = os.pathsep.join([opt.python_dir, opt.peers])


class Celery(System):
    key, name = "celery", "Celery"

    def enqueue(self, kind, args, n):
        subprocess.run([self.opt.python_peer, "celery_enqueue.py", kind, json.dumps(args), str(n)],
                       check=True, cwd=self.opt.peers, env=self.env)

    def workers(self, startup):
        argv = [self.opt.python_peer, "-m", "celery", "-A", "celery_app", "worker", "-P", "prefork",
                "-c", "4", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "-n", "bench@%h"]
        env = dict(self.env, PYTHONPATH=self.opt.peers)
        return [(argv, env, self.log(0))]

    def ready(self, logs):
        return "BENCH-READY" in logs[0]

    def queued(self, r):
        return r("LLEN", "celery")

    def done(self, r, jobs):
        # acks_late: a message sits in the list, then in the unacked hash until
        # its task has run. Between the pop and the unacked write it is in
        # neither, so the caller asks for two zero readings in a row.
        llen, hlen = r.pipeline(("LLEN", "celery"), ("HLEN", "unacked"))
        return llen == 0 and hlen == 0


class CeleryGreen(Celery):
    """Celery's gevent or eventlet pool: 4 worker processes, each running up
    to `concurrency` tasks at once on green threads (Celery monkey-patches
    time.sleep, so the sleep task yields)."""

    def __init__(self, opt, pool, concurrency):
        super().__init__(opt)
        self.pool, self.concurrency = pool, concurrency
        self.key = "celery-%s" % pool
        self.name = "Celery (%s, concurrency %d)" % (pool, concurrency)

    def workers(self, startup):
        env = dict(self.env, PYTHONPATH=self.opt.peers)
        return [([self.opt.python_peer, "-m", "celery", "-A", "celery_app", "worker", "-P",
                  self.pool, "-c", str(self.concurrency), "--loglevel", "WARNING",
                  "--without-gossip", "--without-mingle", "--without-heartbeat",
                  "-n", "bench%d@%%h" % i], env, self.log(i)) for i in range(4)]

    def ready(self, logs):
        return all("BENCH-READY" in text for text in logs)


class RQ(System):
    key, name = "rq", "RQ"
    burst = True

    def enqueue(self, kind, args, n):
        subprocess.run([self.opt.python_peer, "rq_enqueue.py", self.env["BENCH_REDIS_URL"], kind,
                        json.dumps(args), str(n)], check=True, cwd=self.opt.peers, env=self.env)

    def workers(self, startup):
        # --quiet while processing: RQ logs two INFO lines per job by default and
        # no other system logs per job; the start-up run keeps INFO for its
        # "Listening on" line (it runs no job).
        out = []
        for i in range(4):
            argv = [self.opt.rq, "worker", "--burst", "--url", self.env["BENCH_REDIS_URL"],
                    "--path", self.opt.peers, "--name", "bench-%d" % i]
            if not startup:
                argv.append("--quiet")
            out.append((argv + ["default"], self.env, self.log(i)))
        return out

    def ready(self, logs):
        return all("Listening on" in text for text in logs)

    def queued(self, r):
        return r("LLEN", "rq:queue:default")

    def done(self, r, jobs):
        fin, failed = r.pipeline(("ZCARD", "rq:finished:default"), ("ZCARD", "rq:failed:default"))
        return fin + failed >= jobs

    def failed(self, r):
        return r("ZCARD", "rq:failed:default")


class BullMQ(System):
    def __init__(self, opt, mode):
        super().__init__(opt)
        self.mode = mode
        self.key = "bullmq" if mode == "inproc" else "bullmq-sandboxed"
        self.name = "BullMQ (in-process)" if mode == "inproc" else "BullMQ (sandboxed)"
        self.env["NODE_PATH"] = opt.node_modules
        probe = subprocess.run([opt.node, "-e", "require('better-sqlite3')"], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.has_sqlite = probe.returncode == 0
        if not self.has_sqlite:
            # record_event needs a SQLite binding; without one the processor
            # must not try to open the database.
            del self.env["BENCH_DB"]

    def enqueue(self, kind, args, n):
        subprocess.run([self.opt.node, "bullmq_enqueue.js", kind, json.dumps(args), str(n)],
                       check=True, cwd=self.opt.peers, env=self.env)

    def workers(self, startup):
        return [([self.opt.node, os.path.join(self.opt.peers, "bullmq_worker.js"), self.mode],
                 self.env, self.log(0))]

    def ready(self, logs):
        return "BENCH-READY" in logs[0]

    def queued(self, r):
        return r("LLEN", "bull:bench:wait")

    def done(self, r, jobs):
        ok, failed = r.pipeline(("ZCARD", "bull:bench:completed"), ("ZCARD", "bull:bench:failed"))
        return ok + failed >= jobs

    def failed(self, r):
        return r("ZCARD", "bull:bench:failed")


# ---------------------------------------------------------------- one run

# Every worker launched and not yet known to be gone, so that a failed case
# can kill what it left running before the next case starts.
LAUNCHED = []


def kill_leftovers():
    while LAUNCHED:
        p = LAUNCHED.pop()
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def launch(specs, timed, work):
    procs = []
    for i, (argv, env, log) in enumerate(specs):
        if timed:
            argv = ["/usr/bin/time", "-f", "%U %S", "-o", os.path.join(work, "time.%d" % i)] + argv
        procs.append(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                      stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                      start_new_session=True))
    LAUNCHED.extend(procs)
    return procs


def worker_pids(procs, timed):
    """The workers themselves: the children of /usr/bin/time when timed."""
    if not timed:
        return [p.pid for p in procs]
    out = []
    for p in procs:
        out.extend(children_of(p.pid))
    return out


def stop(procs, timed, burst, timeout=120.0):
    """Burst workers exit by themselves; the others get SIGTERM (a graceful
    stop that reaps their children). Anything left after timeout is killed."""
    if not burst:
        for pid in worker_pids(procs, timed):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    end = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise RuntimeError("worker did not stop within %.0f s" % timeout)


def reset(r, system):
    r("FLUSHALL")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(system.db + suffix)
        except FileNotFoundError:
            pass
    prepare_db(system.db)


def prepare_db(path):
    """The events database in WAL mode with its table before any worker
    starts, as forkpool's supervisor does before forking: workers switching a
    new file to WAL together deadlock, and SQLite answers one of them
    "database is locked" at once, busy timeout or not (RQ's work horses did)."""
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, action TEXT,"
                     " timestamp TEXT, org_id TEXT, user_id TEXT, object_id TEXT,"
                     " object_type TEXT)")
    finally:
        conn.close()


def measure_startup(system, r):
    reset(r, system)
    specs = system.workers(startup=True)
    t0 = time.monotonic()
    procs = launch(specs, False, system.work)
    logs = [s[2] for s in specs]
    while True:
        if system.ready([read(p) for p in logs]):
            startup = time.monotonic() - t0
            break
        if time.monotonic() - t0 > 60 or any(p.poll() not in (None, 0) for p in procs):
            stop(procs, False, False, 5)
            raise RuntimeError("%s: no ready signal; log:\n%s" % (system.name, read(logs[0])))
        time.sleep(0.002)
    # RQ's burst workers leave by themselves on an empty queue; forkpool runs
    # without --burst here, so it and the others are sent SIGTERM.
    stop(procs, False, isinstance(system, RQ))
    return startup


def one_run(system, r, kind, args, jobs, trace, startups):
    # The median of a few start-ups: one alone varies by a tenth of a second
    # for the Python peers on a shared 2-core machine.
    startup = sorted(measure_startup(system, r) for _ in range(startups))[startups // 2]
    reset(r, system)
    system.enqueue(kind, args, jobs)
    queued = system.queued(r)
    if queued != jobs:
        raise RuntimeError("%s: %s jobs queued, expected %d" % (system.name, queued, jobs))

    specs = system.workers(startup=False)
    t0 = time.monotonic()
    procs = launch(specs, True, system.work)
    peak = 0
    most = 0  # the most worker processes seen at once, for the trace
    next_pss = t0
    first_zero = None
    t_done = None
    t_ready = None  # this run's own ready signal, for the trace only
    logs = [spec[2] for spec in specs]
    while t_done is None:
        now = time.monotonic()
        sample = now >= next_pss
        if t_ready is None and system.ready([read(p) for p in logs]):
            t_ready = now - t0
            sample = True  # a run shorter than 250 ms still gets a sample
        finished = system.done(r, jobs)
        if sample or finished:
            pids = tree(worker_pids(procs, True))
            peak = max(peak, sum(pss_kb(p) for p in pids))
            most = max(most, len(pids))
            next_pss = now + PSS_EVERY_S
        if finished:
            if isinstance(system, Celery):
                if first_zero is None:
                    first_zero = now
                else:
                    t_done = first_zero
            else:
                t_done = now
        else:
            first_zero = None
        if t_done is None:
            if now - t0 > 3600:
                raise RuntimeError("%s: not done after an hour" % system.name)
            if all(p.poll() is not None for p in procs) and not system.done(r, jobs):
                raise RuntimeError("%s: workers exited early; log:\n%s"
                                   % (system.name, read(specs[0][2])))
            time.sleep(POLL_S)
    stop(procs, True, system.burst)
    for p in procs:
        if p.returncode != 0:
            raise RuntimeError("%s: worker exited %s; log:\n%s"
                               % (system.name, p.returncode, read(specs[0][2])))

    cpu = 0.0
    for i in range(len(procs)):
        user, sys_ = read(os.path.join(system.work, "time.%d" % i)).split()[-2:]
        cpu += float(user) + float(sys_)
    processing = t_done - t0 - startup

    failed = system.failed(r) if hasattr(system, "failed") else 0
    if failed:
        raise RuntimeError("%s: %d jobs failed; log:\n%s" % (system.name, failed, read(specs[0][2])))
    if kind == "record_event":
        rows = sqlite3.connect(system.db).execute("SELECT count(*) FROM events").fetchone()[0]
        if rows != jobs:
            raise RuntimeError("%s: %d rows, expected %d" % (system.name, rows, jobs))
    note = ""
    if isinstance(system, Forkpool):
        n, busy = system.own_busy([read(specs[0][2])])
        if n != jobs:
            raise RuntimeError("forkpool: %s jobs done, expected %d" % (n, jobs))
        if isinstance(system, ForkpoolPython) and t_ready is not None:
            # Its busy time starts at the first pull, which comes before the
            # Python children are ready: it would count their start-up, and
            # so would a launch-based figure minus another run's start-up
            # (Python's start-up varies by a second on a loaded machine).
            # From this run's own "pool ready" (every child ready) instead.
            note = "own busy time %.3f s, launch-based %.3f s" % (busy, processing)
            processing = t_done - t0 - t_ready
        else:
            note = "launch-based %.3f s" % processing
            processing = busy
    if t_ready is not None:
        note += " ready in this run after %.3f s" % t_ready
    note += " up to %d processes" % most
    trace.write("%s\t%s\t%d\tprocessing %.3f s\tstartup %.3f s\tcpu %.2f s\tpss %d kB\t%s\n"
                % (system.name, kind, jobs, processing, startup, cpu, peak, note))
    trace.flush()
    return processing, startup, cpu, peak


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("system", help="forkpool-auto (the defaults), forkpool-pP[qQ] (prefetch P, pipeline Q), celery, rq, bullmq, "
                    "bullmq-sandboxed")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True, help="results TSV to append to")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--startups", type=int, default=3, help="start-ups timed per run (median)")
    ap.add_argument("--forkpool", default="forkpool")
    ap.add_argument("--peers", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--python-peer", default="/usr/bin/python3")
    ap.add_argument("--rq", default="/usr/bin/rq")
    ap.add_argument("--node", default="node")
    ap.add_argument("--node-modules", default="")
    ap.add_argument("--python-dir", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), "python"),
        help="the forkpool Python package's folder, for forkpool-py")
    opt = ap.parse_args()

    fp = re.fullmatch(r"forkpool-p(\d+)(?:q(\d+))?", opt.system)
    py = re.fullmatch(r"forkpool-py(?:-c(\d+))?", opt.system)
    green = re.fullmatch(r"celery-(gevent|eventlet)", opt.system)
    if py:
        system = ForkpoolPython(opt, int(py.group(1) or 1))
    elif green:
        system = CeleryGreen(opt, green.group(1), CONCURRENCY)
    elif fp:
        system = Forkpool(opt, int(fp.group(1)), int(fp.group(2) or 0))
    elif opt.system == "forkpool-auto":
        system = Forkpool(opt, None, 0)
    elif opt.system == "celery":
        system = Celery(opt)
    elif opt.system == "rq":
        system = RQ(opt)
    elif opt.system == "bullmq":
        system = BullMQ(opt, "inproc")
    elif opt.system == "bullmq-sandboxed":
        system = BullMQ(opt, "sandboxed")
    else:
        ap.error("unknown system " + opt.system)

    def scaled(n):
        return max(10, int(round(n * opt.scale)))

    # (case, job type, args, jobs)
    cases = [("record_event", "record_event", EVENT_ARGS, scaled(1000)),
             ("record_event", "record_event", EVENT_ARGS, scaled(10000)),
             ("noop", "noop", {}, scaled(10000)),
             ("sleep_50ms", "sleep", {"ms": 50}, scaled(400))]
    if isinstance(system, Forkpool) and not isinstance(system, ForkpoolPython):
        cases.append(("noop", "noop", {}, scaled(200000)))
    # The Python worker beside Celery's prefork rows (sync handlers: noop and
    # sleep); at concurrency above 1, the many-sleeping-jobs case only, beside
    # Celery's green pools, which run Celery's time.sleep task monkey-patched.
    green = "sleep_50ms_c%d" % CONCURRENCY
    if isinstance(system, ForkpoolPython) and system.key == "forkpool-py":
        cases = cases[2:4]
    elif isinstance(system, ForkpoolPython):
        cases = [(green, "asleep", {"ms": 50}, scaled(10000))]
    elif isinstance(system, CeleryGreen):
        cases = [(green, "sleep", {"ms": 50}, scaled(10000))]

    if isinstance(system, BullMQ) and not system.has_sqlite:
        print("   %s: better-sqlite3 could not be loaded (see npm-install.log): "
              "record_event skipped" % system.name, flush=True)
        cases = [c for c in cases if c[1] != "record_event"]

    r = Redis(opt.port)
    with open(os.path.join(opt.work, "trace.log"), "a") as trace, open(opt.out, "a") as out:
        for case, kind, args, jobs in cases:
            for run in range(opt.runs):
                try:
                    processing, startup, cpu, peak = one_run(system, r, kind, args, jobs, trace,
                                                             opt.startups)
                except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                    kill_leftovers()
                    reason = re.sub(r";? log:$", "", str(exc).split("\n")[0])
                    out.write("%s\t%s\t%d\tfailed: %s\n" % (system.name, case, jobs, reason))
                    out.flush()
                    print("   %-22s %-13s %7d jobs  run %d FAILED: %s; going on with the next case"
                          % (system.name, case, jobs, run + 1, exc), flush=True)
                    break
                out.write("%s\t%s\t%d\t%.4f\t%.4f\t%.2f\t%d\n"
                          % (system.name, case, jobs, processing, startup, cpu, peak))
                out.flush()
                print("   %-22s %-13s %7d jobs  run %d: processing %.3f s (%.0f jobs/s), "
                      "start-up %.3f s, CPU %.2f s, PSS %.1f MB"
                      % (system.name, case, jobs, run + 1, processing,
                         jobs / max(processing, 1e-6), startup, cpu, peak / 1024), flush=True)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print("driver: %s" % exc, file=sys.stderr)
        sys.exit(1)
