#!/usr/bin/env python3
"""autoscale_plot.py TSV PNG: draws bench/autoscale.sh's run from its TSV
(autoscale_sample.py's columns): jobs/s, queue wait and children over time,
three panels sharing the time axis, so a reader sees the pool react."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")  # no display: a file only
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    tsv, png = sys.argv[1], sys.argv[2]
    with open(tsv) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    t = [float(r["t_s"]) for r in rows]
    col = {k: [float(r[k]) for r in rows] for k in rows[0] if k != "t_s"} if rows else {}
    fig, (a1, a2, a3) = plt.subplots(3, 1, sharex=True, figsize=(9, 8))
    a1.plot(t, col.get("jobs_per_s", []), color="tab:blue")
    a1.set_ylabel("jobs/s")
    a2.plot(t, col.get("mean_wait_s", []), label="mean wait of jobs started")
    a2.plot(t, col.get("oldest_ready_s", []), label="oldest ready job")
    a2.set_ylabel("queue wait (s)")
    a2.legend(loc="upper right")
    a3.step(t, col.get("children_target", []), where="post", label="target")
    a3.plot(t, col.get("children_live", []), label="alive")
    a3.set_ylabel("children")
    a3.set_xlabel("time (s)")
    a3.legend(loc="upper right")
    fig.suptitle("forkpool autoscale run")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    main()
