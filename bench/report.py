#!/usr/bin/env python3
"""report.py RESULTS.tsv [--title TEXT] [--base SYSTEM]

Markdown tables from bench/compare.sh's runs. Each input line is one
run: system, case, jobs, processing_s, startup_s, cpu_s, pss_kb (tab-separated;
blank lines and lines starting with # are skipped). Runs of the same system,
case and job count are one row: the median with [min-max] of jobs/s
(jobs / processing_s), processing seconds, CPU seconds per 1,000 jobs, peak
total PSS in MB and start-up seconds. A line "system, case, jobs, failed:
REASON" (4 columns) is a case that failed: table 1 shows it with its reason,
and the other tables leave it out.

Printed to stdout:
  1. every system and case;
  2. every forkpool setting's jobs/s ratio to each peer on the same case and
     job count, and the base setting's (default "forkpool (prefetch 0)", the
     defaults) CPU, PSS and start-up ratios (a system run with other job
     counts only, such as RQ under FP_COMPARE_RQ_SCALE, is paired with its
     nearest job count of the same case, and the row says so);
  3. when the TSV holds rows of the systems "ceiling-redis" or
     "ceiling-redis-b8" (paired with the noop cases) or "ceiling-sqlite" (paired with the record_event cases):
     each forkpool's jobs/s as a fraction of the ceiling's (a ceiling run of
     the same job count if there is one, else all of that ceiling's runs).
"""
import argparse
import re
import statistics
import sys

CEILINGS = {"ceiling-redis": "noop", "ceiling-sqlite": "record_event"}
CHILDREN = 4  # compare.sh's workers per system


def is_ceiling(system):
    return system in CEILINGS or system.startswith("ceiling-redis-b")


def ceiling_for(variant, case):
    """The ceiling a forkpool setting is measured against: SQLite alone for
    record_event; for noop the Redis path with the same jobs per round trip
    (children + prefetch): ceiling-redis is B = 4, ceiling-redis-bN is B = N."""
    if case == "record_event":
        return "ceiling-sqlite"
    m = re.match(r"forkpool \(prefetch (\d+)", variant)
    if case != "noop" or m is None:
        return None
    prefetch = int(m.group(1))
    return "ceiling-redis" if prefetch == 0 else "ceiling-redis-b%d" % (CHILDREN + prefetch)
CASE_ORDER = {"record_event": 0, "noop": 1, "sleep_50ms": 2, "sleep_50ms_c50": 3}


def load(path):
    """(groups, order, failures): runs by (system, case, jobs) in the order
    first seen, and the reason of every failed (system, case, jobs)."""
    groups = {}
    order = []
    failures = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) == 4 and cols[3].startswith("failed"):
                failures[(cols[0], cols[1], int(cols[2]))] = cols[3]
                continue
            if len(cols) != 7:
                sys.exit("bench_report: %s:%d: expected 7 tab-separated columns, got %d"
                         % (path, lineno, len(cols)))
            system, case = cols[0], cols[1]
            jobs = int(cols[2])
            processing, startup, cpu, pss = (float(c) for c in cols[3:7])
            key = (system, case, jobs)
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append({
                "jobs/s": jobs / processing if processing > 0 else float("nan"),
                "processing": processing,
                "cpu/1000": cpu * 1000.0 / jobs,
                "pss_mb": pss / 1024.0,
                "startup": startup,
            })
    return groups, order, failures


def med(runs, field):
    values = [r[field] for r in runs if r[field] == r[field]]  # drop NaN
    if not values:
        return None, None, None
    return statistics.median(values), min(values), max(values)


def fmt_num(v, digits):
    if v is None:
        return "n/a"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{d}f}".format(v, d=digits)


def cell(runs, field, digits):
    m, lo, hi = med(runs, field)
    if m is None:
        return "n/a (processing ≤ 0)"
    if len(runs) == 1:
        return fmt_num(m, digits)
    return "%s [%s–%s]" % (fmt_num(m, digits), fmt_num(lo, digits), fmt_num(hi, digits))


def case_label(case, jobs):
    if case == "sleep_50ms":
        return "sleep 50 ms × {:,}".format(jobs)
    if case.startswith("sleep_50ms_c"):
        return "sleep 50 ms × {:,}, {} at once per worker".format(jobs, case[len("sleep_50ms_c"):])
    return "{} × {:,}".format(case, jobs)


def digits_for(value):
    if value is None:
        return 2
    if value >= 100:
        return 0
    if value >= 10:
        return 1
    if value >= 0.1:
        return 2
    return 3


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    r = a / b
    return "%.2f×" % r if r < 10 else "%.0f×" % r if r >= 100 else "%.1f×" % r


def pair(groups, order, base, system, case, jobs):
    """The job count of system's runs to set against base's run of jobs: the
    same, or for a system run with fewer jobs only (FP_COMPARE_RQ_SCALE) its
    nearest count of the same case, which the label then says."""
    if (system, case, jobs) in groups:
        return jobs, system
    mine_jobs = [k[2] for k in order if k[0] == base and k[1] == case]
    near = [j for (s_, c_, j) in order if s_ == system and c_ == case
            and j not in mine_jobs and min(mine_jobs, key=lambda m: abs(m - j)) == jobs]
    if not near:
        return None, None
    other = min(near, key=lambda j: abs(j - jobs))
    return other, "%s (its run of {:,} jobs)".format(other) % system


def main():
    ap = argparse.ArgumentParser(description="Markdown tables from compare.sh runs")
    ap.add_argument("tsv")
    ap.add_argument("--title", default="")
    ap.add_argument("--base", default="forkpool (prefetch 0)",
                    help="the forkpool setting whose CPU, PSS and start-up ratios are shown")
    opt = ap.parse_args()

    groups, order, failures = load(opt.tsv)
    if not groups and not failures:
        sys.exit("bench_report: no runs in " + opt.tsv)
    systems = []
    for system, _, _ in order:
        if system not in systems:
            systems.append(system)
    cases = sorted({(c, j) for _, c, j in order}, key=lambda cj: (CASE_ORDER.get(cj[0], 9), cj[1]))
    base = opt.base
    if base not in systems:
        base = next((s for s in systems if s.startswith("forkpool")), None)

    if opt.title:
        print(opt.title)
        print()

    # 1. Everything.
    print("| case | system | jobs/s | processing s | CPU s per 1,000 jobs | peak PSS MB, all processes | start-up s |")
    print("|---|---|---|---|---|---|---|")
    for case, jobs in cases:
        for system in systems:
            runs = groups.get((system, case, jobs))
            if not runs:
                continue
            proc = cell(runs, "processing", digits_for(med(runs, "processing")[0]))
            if case == "sleep_50ms":
                # 4 workers, 50 ms each: the ideal is jobs * 0.05 / 4 seconds.
                ideal = jobs * 0.05 / 4
                m = med(runs, "processing")[0]
                if m:
                    proc += " (%.1f %% of ideal %.2f s)" % (100.0 * ideal / m, ideal)
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                case_label(case, jobs), system,
                cell(runs, "jobs/s", 0),
                proc,
                cell(runs, "cpu/1000", digits_for(med(runs, "cpu/1000")[0])),
                cell(runs, "pss_mb", 1),
                cell(runs, "startup", 3)))
    for (system, case, jobs), reason in failures.items():
        label = case_label(case, jobs) if jobs else case
        print("| %s | %s | %s | – | – | – | – |" % (label, system, reason.replace("|", "/")))

    # 2. Each forkpool setting against each peer, same case and job count:
    # jobs/s for every setting, and CPU, PSS and start-up for the base.
    variants = [s for s in systems if s.startswith("forkpool")]
    if base is not None:
        rows = []
        for case, jobs in cases:
            mine = groups.get((base, case, jobs))
            if not mine:
                continue
            for system in systems:
                if system in variants or is_ceiling(system):
                    continue
                other, label = pair(groups, order, base, system, case, jobs)
                if other is None:
                    continue
                theirs = groups[(system, case, other)]
                speed = []
                for v in variants:
                    runs = groups.get((v, case, jobs))
                    speed.append(ratio(med(runs, "jobs/s")[0], med(theirs, "jobs/s")[0])
                                 if runs else "n/a")
                rows.append("| %s | %s | %s | %s | %s | %s |" % (
                    case_label(case, jobs), label, " | ".join(speed),
                    ratio(med(theirs, "cpu/1000")[0], med(mine, "cpu/1000")[0]),
                    ratio(med(theirs, "pss_mb")[0], med(mine, "pss_mb")[0]),
                    ratio(med(theirs, "startup")[0], med(mine, "startup")[0])))
        if rows:
            print()
            print("forkpool against each system (medians): forkpool's jobs/s over theirs for each "
                  "setting; their CPU per job, PSS and start-up over those of %s. Above 1× means "
                  "forkpool is ahead." % base)
            print()
            print("| case | against | %s | CPU per job | PSS | start-up |"
                  % " | ".join("jobs/s, " + v for v in variants))
            print("|---|---|%s---|---|---|" % ("---|" * len(variants)))
            print("\n".join(rows))

    # 3. Each forkpool setting against its ceiling (all runs of that
    # ceiling: it does not depend on how many jobs were queued).
    rows = []
    for case, jobs in cases:
        for v in variants:
            ceiling = ceiling_for(v, case)
            runs = groups.get((v, case, jobs))
            pool = [r for k in order if k[0] == ceiling for r in groups[k]]
            if not runs or not pool:
                continue
            mine, top = med(runs, "jobs/s")[0], med(pool, "jobs/s")[0]
            frac = "n/a" if not top or mine is None else "%.0f %%" % (100.0 * mine / top)
            rows.append("| %s | %s | %s | %s (%s) | %s |" % (
                case_label(case, jobs), v, fmt_num(mine, 0), fmt_num(top, 0), ceiling, frac))
    if rows:
        print()
        print("forkpool against the ceilings, median jobs/s: SQLite alone for record_event; for noop "
              "the Redis path alone with forkpool's own script and the same jobs per round trip "
              "(children + prefetch).")
        print()
        print("| case | system | jobs/s | ceiling jobs/s | fraction of ceiling |")
        print("|---|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
