#!/usr/bin/env python3
"""autoscale_sample.py: the sampler of bench/autoscale.sh. Reads the daemon's
/metrics every --every seconds and writes one TSV row per sample: time, jobs
finished per second, the mean enqueue-to-start wait of the jobs started since
the last sample, the oldest ready job's age, the children wanted and the
children alive. Stops once --jobs jobs are done and the pool is back to
--min children (or after --max-seconds)."""
import argparse
import time
import urllib.request
from typing import Dict


def scrape(port: int) -> Dict[str, float]:
    """The samples of one /metrics page, summed by family name (labels dropped)
    but for children by state, kept as children_<state>."""
    out: Dict[str, float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        if name == "forkpool_jobs_total" and 'outcome="ok"' not in name_labels:
            continue
        if name == "forkpool_children":
            name = "children_" + name_labels.split('state="', 1)[1].split('"', 1)[0]
        out[name] = out.get(name, 0.0) + float(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--jobs", type=int, required=True)
    ap.add_argument("--min", type=int, required=True)
    ap.add_argument("--every", type=float, default=0.25)
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()
    start = time.monotonic()
    prev = scrape(a.port)
    prev_t = start
    with open(a.tsv, "w") as f:
        f.write("t_s\tjobs_per_s\tmean_wait_s\toldest_ready_s\tchildren_target\tchildren_live\n")
        while time.monotonic() - start < a.max_seconds:
            time.sleep(a.every)
            now = time.monotonic()
            m = scrape(a.port)
            done = m.get("forkpool_jobs_total", 0.0)
            rate = (done - prev.get("forkpool_jobs_total", 0.0)) / (now - prev_t)
            started = m.get("forkpool_job_wait_seconds_count", 0.0) - prev.get(
                "forkpool_job_wait_seconds_count", 0.0)
            waited = m.get("forkpool_job_wait_seconds_sum", 0.0) - prev.get(
                "forkpool_job_wait_seconds_sum", 0.0)
            live = sum(m.get("children_" + s, 0.0) for s in ("starting", "idle", "busy"))
            target = m.get("forkpool_children_target", 0.0)
            f.write(f"{now - start:.2f}\t{rate:.1f}\t{waited / started if started else 0:.4f}\t"
                    f"{m.get('forkpool_queue_oldest_age_seconds', 0.0):.3f}\t{target:.0f}\t"
                    f"{live:.0f}\n")
            f.flush()
            prev, prev_t = m, now
            if done >= a.jobs and target <= a.min and live <= a.min:
                break


if __name__ == "__main__":
    main()
