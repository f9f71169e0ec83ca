"""bench/mixed_report.py's deciding parts, on hand-made traces: which short
jobs count as blocked behind a long job while another child was free, the
summary's span and ideal, and the timeline's columns."""
import os
import random
import struct
import sys

BENCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
sys.path.insert(0, os.path.normpath(BENCH_DIR))

import mixed_report  # noqa: E402
from mixed_report import Job, blocked_extra, summary, timeline  # noqa: E402

MS = 1_000_000  # ns


def job(seq, pid, start_ms, ms, sent_ms=0):
    return Job(sent_ms * MS, start_ms * MS, (start_ms + ms) * MS, seq, pid, ms)


def test_short_job_behind_a_long_one_while_a_later_job_ran_elsewhere_is_blocked():
    jobs = [job(0, 1, 0, 1000), job(1, 1, 1000, 1),  # 1 waited in child 1's socket
            job(2, 2, 5, 1)]                          # queued after it, started at 5 ms
    assert blocked_extra(jobs, 1000) == [995 * MS]


def test_every_short_job_queued_behind_the_long_one_counts():
    jobs = [job(0, 1, 0, 1000), job(1, 1, 1000, 1), job(2, 1, 1001, 1),
            job(3, 2, 2, 1), job(4, 2, 3, 1)]
    assert sorted(blocked_extra(jobs, 1000)) == [998 * MS, 999 * MS]


def test_no_later_job_started_before_the_long_one_ended_is_not_blocked():
    # Child 2 was busy with earlier work the whole time: nothing overtook.
    jobs = [job(0, 1, 0, 1000), job(1, 2, 0, 1000), job(2, 1, 1000, 1), job(3, 2, 1000, 1)]
    assert blocked_extra(jobs, 1000) == []


def test_an_earlier_job_starting_elsewhere_is_no_evidence():
    # Job 1 started on child 2 before the long job ended, but it was queued
    # before job 2: job 2 may have been pulled only when child 1 got free.
    jobs = [job(0, 1, 0, 1000), job(1, 2, 5, 1), job(2, 1, 1000, 1)]
    assert blocked_extra(jobs, 1000) == []


def test_the_overtaking_job_must_be_on_another_child():
    # The earliest later job is on the blocked job's own child (after it);
    # the one on child 2 started before the long job's end.
    jobs = [job(0, 1, 0, 1000), job(1, 1, 1000, 1), job(2, 1, 1001, 1), job(3, 2, 900, 1)]
    assert sorted(blocked_extra(jobs, 1000)) == [100 * MS, 101 * MS]


def test_summary_span_ideal_and_short_waits():
    jobs = [job(0, 1, 0, 1000), job(1, 1, 1000, 1, sent_ms=0), job(2, 2, 5, 1)]
    s = summary(jobs, children=2, long_ms=1000)
    assert s["jobs"] == 3
    assert s["span_s"] == 1.001
    assert s["ideal_s"] == 1.002 / 2
    assert s["short_wait_max_ms"] == 1000.0
    assert s["blocked"] == 1
    assert s["blocked_extra_max_ms"] == 995.0


def test_timeline_counts_ends_waits_ready_and_busy_children():
    jobs = [job(0, 1, 0, 150), job(1, 2, 50, 10), job(2, 2, 120, 10)]
    rows = timeline(jobs, long_ms=100, every=0.1)
    assert [r["t_s"] for r in rows] == [0.1, 0.2]
    assert [r["jobs_per_s"] for r in rows] == [10.0, 20.0]
    assert rows[0]["mean_wait_s"] == 0.025 and rows[1]["mean_wait_s"] == 0.12
    assert rows[0]["oldest_ready_s"] == 0.1  # job 2 sent at 0, not started at 100 ms
    assert rows[0]["children_busy"] == 1 and rows[0]["children_on_long"] == 1
    assert rows[1]["children_busy"] == 0


def test_load_reads_the_plugins_records(tmp_path):
    path = tmp_path / "trace.bin"
    path.write_bytes(struct.pack("=qqqqii", 1, 2, 3, 4, 5, 6) + b"\0" * 7)  # a torn tail
    assert mixed_report.load(str(path)) == [Job(1, 2, 3, 4, 5, 6)]


def test_timeline_matches_a_scan_of_every_job_per_row():
    rng = random.Random(7)
    jobs = []
    for seq in range(300):
        sent = rng.randrange(0, 50) * MS
        start = sent + rng.randrange(0, 400) * MS
        ms = 1000 if rng.random() < 0.05 else 1
        jobs.append(Job(sent, start, start + ms * MS, seq, rng.randrange(4), ms))
    rows = timeline(jobs, long_ms=1000, every=0.1)
    t0, step = min(j.sent_ns for j in jobs), 100 * MS
    for i, r in enumerate(rows):
        a, b = t0 + i * step, t0 + (i + 1) * step
        running = [j for j in jobs if j.start_ns <= b < j.end_ns]
        ready = [j.sent_ns for j in jobs if j.sent_ns <= b < j.start_ns]
        assert r["children_busy"] == len(running)
        assert r["children_on_long"] == sum(1 for j in running if j.ms >= 1000)
        assert r["oldest_ready_s"] == ((b - min(ready)) / 1e9 if ready else 0.0)
        if i < len(rows) - 1:  # the last row also takes what ends on its edge
            assert r["jobs_per_s"] == sum(1 for j in jobs if a <= j.end_ns < b) / 0.1


def test_fifo_span_places_jobs_in_order_on_the_first_free_child():
    # Two children; producer order 0..3, measured runs 10, 10, 30, 5 ms (job 3
    # measured 5 though nominal 1): 0 and 1 start at 0, 2 and 3 at 10 ms on
    # whichever freed, so the span is 40 ms, however the real run went.
    jobs = [job(0, 1, 0, 10), job(1, 2, 3, 10), job(2, 2, 50, 30),
            Job(0, 90 * MS, 95 * MS, 3, 1, 1)]
    assert abs(mixed_report.fifo_span(jobs, 2) - 0.040) < 1e-9
    s = summary(jobs, 2, 1000)
    assert abs(s["overhead"] - s["span_s"] / 0.040) < 1e-9
    # A job is never placed before it was sent.
    late = [job(0, 1, 0, 10), job(1, 1, 70, 10, sent_ms=60)]
    assert abs(mixed_report.fifo_span(late, 4) - 0.070) < 1e-9


def test_start_rate_is_jobs_over_first_send_to_last_start():
    # Three jobs sent from 0 ms, the last starting at 30 ms: 100 jobs/s.
    jobs = [job(0, 1, 10, 1), job(1, 2, 20, 1, sent_ms=5), job(2, 1, 30, 1, sent_ms=10)]
    assert abs(mixed_report.start_rate(jobs) - 100.0) < 1e-9
