#!/usr/bin/env python3
"""mixed_report.py TRACE --children N [--long-ms MS] [--tsv OUT] [--every S]
mixed_report.py TRACE --start-rate

The mixed run of bench/steer.sh from the latency_probe plugin's trace (one
40-byte record per job: sent, start and end CLOCK_MONOTONIC ns, the
producer's order, the child's pid, the job's ms; see bench/latency_probe.c).
Prints one line of key=value:

  jobs, span_s     from the first XADD to the last job's end
  ideal_s          the work's sum over the children (sum of ms / N)
  efficiency       ideal_s / span_s
  run_over         the short jobs' measured run time over their nominal ms
                   (the handler's sleep overshoots; no pool can win it back)
  fifo_s           the span of a pool with no overhead at all: the jobs in
                   the producer's order, each on the first free child from
                   when it was sent, for its measured run time
  overhead         span_s / fifo_s: what the pool itself added
  short_wait_p99_ms, short_wait_max_ms
                   enqueue (XADD) to start of the short jobs; the queue is
                   filled at once, so these include waiting in the backlog
  blocked          short jobs that waited behind a long job while another
                   child was free (defined at blocked_extra below)
  blocked_extra_max_ms
                   the longest of those waits past the free child's start

and with --tsv a timeline, one row per --every seconds (0.1), in the
columns bench/timeline_plot.py draws: t_s, jobs_per_s (jobs ended in the
interval), mean_wait_s (of the jobs started in it), oldest_ready_s (age of
the oldest job sent and not yet started, at the interval's end),
children_busy and children_on_long (children running a job, a long job, at
the interval's end).

With --start-rate, only the rate at which the jobs started: jobs over the
time from the first XADD to the last start (start_rate, jobs/s). Fed by a
sender that outruns the pool, it is the capacity of the whole setup with the
producer running (bench/latency_lib.sh, latency_capacity_paced). Standard
library only."""
import argparse
import heapq
import struct
from bisect import bisect_right
from typing import Dict, List, NamedTuple, Optional, Tuple

RECORD = struct.Struct("=qqqqii")  # fp_probe_trace_t


class Job(NamedTuple):
    sent_ns: int
    start_ns: int
    end_ns: int
    seq: int
    pid: int
    ms: int


def load(path: str) -> List[Job]:
    with open(path, "rb") as f:
        data = f.read()
    usable = len(data) - len(data) % RECORD.size
    return [Job(*RECORD.unpack_from(data, off)) for off in range(0, usable, RECORD.size)]


def percentile(values: List[float], p: float) -> float:
    """Nearest rank, as bench/latency_send.c's report: the smallest value with
    at least p % of them at or below it; 0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    rank = max(1, -(-len(s) * p // 100))  # ceil without floats
    return s[int(rank) - 1]


def blocked_extra(jobs: List[Job], long_ms: int) -> List[int]:
    """For every blocked short job, how long (ns) it started after the
    earliest-starting job queued behind it on another child.

    A short job J (ms < long_ms) is blocked when the last long job P its
    child ran before it ended after some job K that is later than J in the
    producer's order had started on another child. The supervisor hands jobs
    out in stream order, so J had left the supervisor before K did: J was
    waiting in its child's socket behind P (and any short jobs between) while
    K's child was free to take it. Jobs that only overtake a neighbour by
    microseconds are not counted: K must start before P ends, and P runs
    long_ms."""
    # Per seq, from the back: the earliest start among later jobs, and the
    # earliest among those on a child other than that one's.
    by_seq = sorted(jobs, key=lambda j: j.seq)
    best: List[Optional[Job]] = [None] * (len(by_seq) + 1)
    other: List[Optional[Job]] = [None] * (len(by_seq) + 1)
    for i in range(len(by_seq) - 1, -1, -1):
        j, b, o = by_seq[i], best[i + 1], other[i + 1]
        if b is None or j.start_ns < b.start_ns:
            best[i], other[i] = j, (b if b is not None and b.pid != j.pid else o)
        else:
            best[i] = b
            better = j.pid != b.pid and (o is None or j.start_ns < o.start_ns)
            other[i] = j if better else o
    index = {j.seq: i for i, j in enumerate(by_seq)}
    per_child: Dict[int, List[Job]] = {}
    for j in jobs:
        per_child.setdefault(j.pid, []).append(j)
    extra: List[int] = []
    for pid, run in per_child.items():
        run.sort(key=lambda j: j.start_ns)
        last_long: Optional[Job] = None
        for j in run:
            if j.ms >= long_ms:
                last_long = j
                continue
            if last_long is None:
                continue
            i = index[j.seq] + 1
            b = best[i]
            k = b if b is not None and b.pid != pid else other[i]
            if k is not None and k.start_ns < last_long.end_ns:
                extra.append(j.start_ns - k.start_ns)
    return extra


def fifo_span(jobs: List[Job], children: int) -> float:
    """List scheduling in the producer's order with the measured run times."""
    t0 = min(j.sent_ns for j in jobs)
    free = [t0] * children
    end = t0
    for j in sorted(jobs, key=lambda j: j.seq):
        start = max(heapq.heappop(free), j.sent_ns)
        done = start + (j.end_ns - j.start_ns)
        heapq.heappush(free, done)
        end = max(end, done)
    return (end - t0) / 1e9


def summary(jobs: List[Job], children: int, long_ms: int) -> Dict[str, float]:
    t0 = min(j.sent_ns for j in jobs)
    span = (max(j.end_ns for j in jobs) - t0) / 1e9
    ideal = sum(j.ms for j in jobs) / 1000.0 / children
    waits = [(j.start_ns - j.sent_ns) / 1e6 for j in jobs if j.ms < long_ms]
    extra = [e / 1e6 for e in blocked_extra(jobs, long_ms)]
    short = [j for j in jobs if j.ms < long_ms and j.ms > 0]
    run_over = (sum(j.end_ns - j.start_ns for j in short) / 1e6 / sum(j.ms for j in short)
                if short else 0.0)
    fifo = fifo_span(jobs, children)
    return {"jobs": len(jobs), "span_s": span, "ideal_s": ideal,
            "efficiency": ideal / span if span > 0 else 0.0,
            "run_over": run_over, "fifo_s": fifo, "overhead": span / fifo if fifo > 0 else 0.0,
            "short_wait_p99_ms": percentile(waits, 99), "short_wait_max_ms": max(waits, default=0.0),
            "blocked": len(extra), "blocked_extra_max_ms": max(extra, default=0.0)}


def timeline(jobs: List[Job], long_ms: int, every: float) -> List[Dict[str, float]]:
    """One row per interval of `every` s from the first XADD; a sweep over
    the jobs sorted by time, not a scan of all of them per row."""
    t0 = min(j.sent_ns for j in jobs)
    step = int(every * 1e9)
    n_rows = -(-(max(j.end_ns for j in jobs) - t0) // step)
    ended = [0] * n_rows
    waits: List[List[int]] = [[] for _ in range(n_rows)]
    for j in jobs:
        ended[min((j.end_ns - t0) // step, n_rows - 1)] += 1
        waits[min((j.start_ns - t0) // step, n_rows - 1)].append(j.start_ns - j.sent_ns)
    starts = sorted(j.start_ns for j in jobs)
    ends = sorted(j.end_ns for j in jobs)
    long_starts = sorted(j.start_ns for j in jobs if j.ms >= long_ms)
    long_ends = sorted(j.end_ns for j in jobs if j.ms >= long_ms)
    by_sent = sorted(jobs, key=lambda j: j.sent_ns)
    sent_heap: List[Tuple[int, int]] = []  # (sent, start) of the jobs sent so far
    nxt = 0
    rows = []
    for i in range(n_rows):
        b = t0 + (i + 1) * step
        while nxt < len(by_sent) and by_sent[nxt].sent_ns <= b:
            heapq.heappush(sent_heap, (by_sent[nxt].sent_ns, by_sent[nxt].start_ns))
            nxt += 1
        # A job started by b stays started: drop it for every later row too.
        while sent_heap and sent_heap[0][1] <= b:
            heapq.heappop(sent_heap)
        w = waits[i]
        rows.append({"t_s": (b - t0) / 1e9, "jobs_per_s": ended[i] / every,
                     "mean_wait_s": sum(w) / len(w) / 1e9 if w else 0.0,
                     "oldest_ready_s": (b - sent_heap[0][0]) / 1e9 if sent_heap else 0.0,
                     "children_busy": bisect_right(starts, b) - bisect_right(ends, b),
                     "children_on_long": bisect_right(long_starts, b) - bisect_right(long_ends, b)})
    return rows


def start_rate(jobs: List[Job]) -> float:
    """Jobs per second from the first one sent to the last one started."""
    span = max(j.start_ns for j in jobs) - min(j.sent_ns for j in jobs)
    return len(jobs) * 1e9 / span if span > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--children", type=int)
    ap.add_argument("--start-rate", action="store_true")
    ap.add_argument("--long-ms", type=int, default=1000)
    ap.add_argument("--tsv")
    ap.add_argument("--every", type=float, default=0.1)
    a = ap.parse_args()
    jobs = load(a.trace)
    if not jobs:
        raise SystemExit("mixed_report: %s holds no records" % a.trace)
    if a.start_rate:
        print("jobs=%d start_rate=%.0f" % (len(jobs), start_rate(jobs)))
        return
    if a.children is None:
        ap.error("--children is required")
    s = summary(jobs, a.children, a.long_ms)
    print(" ".join("%s=%s" % (k, v if isinstance(v, int) else "%.3f" % v) for k, v in s.items()))
    if a.tsv:
        rows = timeline(jobs, a.long_ms, a.every)
        with open(a.tsv, "w") as f:
            f.write("\t".join(rows[0]) + "\n")
            for r in rows:
                f.write("\t".join("%.4f" % v for v in r.values()) + "\n")


if __name__ == "__main__":
    main()
