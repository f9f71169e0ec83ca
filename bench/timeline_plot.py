#!/usr/bin/env python3
"""timeline_plot.py TSV PNG [--title TEXT]: draws a run sampled over time,
three panels sharing the time axis so a reader sees the pool react: jobs/s,
queue wait, children. One copy for every run that has a timeline:
bench/autoscale.sh (autoscale_sample.py's columns) and bench/steer.sh's mixed
run (mixed_report.py's). Columns: t_s and jobs_per_s; mean_wait_s and
oldest_ready_s, where present; every column named children_*, a step line
for children_target."""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")  # no display: a file only
import matplotlib.pyplot as plt  # noqa: E402

WAITS = {"mean_wait_s": "mean wait of jobs started", "oldest_ready_s": "oldest ready job"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("png")
    ap.add_argument("--title", default="forkpool autoscale run")
    a = ap.parse_args()
    with open(a.tsv) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    t = [float(r["t_s"]) for r in rows]
    col = {k: [float(r[k]) for r in rows] for k in rows[0] if k != "t_s"} if rows else {}
    fig, (a1, a2, a3) = plt.subplots(3, 1, sharex=True, figsize=(9, 8))
    a1.plot(t, col.get("jobs_per_s", []), color="tab:blue")
    a1.set_ylabel("jobs/s")
    for name, label in WAITS.items():
        if name in col:
            a2.plot(t, col[name], label=label)
    a2.set_ylabel("queue wait (s)")
    a2.legend(loc="upper right")
    for name in (k for k in col if k.startswith("children_")):
        label = name[len("children_"):].replace("_", " ")
        if name == "children_target":
            a3.step(t, col[name], where="post", label=label)
        else:
            a3.plot(t, col[name], label=label)
    a3.set_ylabel("children")
    a3.set_xlabel("time (s)")
    a3.legend(loc="upper right")
    fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.png, dpi=100)


if __name__ == "__main__":
    main()
