#!/usr/bin/env bash
# scale.sh: many daemons on one Redis (scripts/bench.sh --scale). For each
# count in FP_SCALE_DAEMONS ("1 2 4 8"), that many daemons of
# FP_SCALE_CHILDREN (2) children each, every one its own consumer
# (daemon.name scale-1, scale-2...), run `run --burst` together on one shared,
# pre-filled queue of FP_SCALE_JOBS (200,000) noop jobs; FP_BENCH_RUNS (3)
# runs each, medians. Columns:
#   jobs/s          all jobs over the longest daemon's busy time (its first
#                   pull to its last outcome, from its "stopped:" line): the
#                   daemons start together and a burst ends only when the
#                   shared queue has nothing ready or pending, so the longest
#                   busy time spans the run
#   Redis CPU       redis-server's user + sys (INFO cpu) from after the
#                   enqueue to after the last daemon exits, per job
#   fairness        jobs done per daemon, from each "stopped: N jobs done"
#                   line: min / max, and min over max
# Writes Markdown ($FP_SCALE_OUT, build-bench/scale.md) and a TSV of every
# run ($FP_SCALE_TSV, build-bench/scale.tsv). Development:
#   FP_SCALE_JOBS=5000 FP_BENCH_RUNS=1 scripts/bench.sh --scale
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
runs=${FP_BENCH_RUNS:-3}
jobs=${FP_SCALE_JOBS:-200000}
children=${FP_SCALE_CHILDREN:-2}
counts=${FP_SCALE_DAEMONS:-1 2 4 8}
out=${FP_SCALE_OUT:-$build_dir/scale.md}
tsv=${FP_SCALE_TSV:-$build_dir/scale.tsv}

load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== scale: load average at start: $load" >&2
scripts/bootstrap.sh >/dev/null
echo "== scale: building $build_dir (release)" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool >/dev/null
bin=$(cd "$build_dir" && pwd)/forkpool

# shellcheck source=bench/bench_env.sh
. bench/bench_env.sh
bench_env scale

# The [redis] section every daemon of a row gets. Cluster rows go here: a
# second pass over the same counts with this section naming the cluster's
# seed nodes, Redis CPU summed over its masters (redis_cpu below), and the
# row labelled by topology; until then no Cluster row is printed.
redis_section() { printf '[redis]\nurl = "redis://127.0.0.1:%s/0"\n' "$port"; }
# redis-server's user + sys CPU seconds so far.
redis_cpu() {
  redis-cli -p "$port" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.6f\n", s}'
}

# one_run D: D daemons on one pre-filled queue, called in the script's own
# shell so that the exit trap sees bench_pids; prints
# "daemons jobs busy_max redis_cpu_s min_jobs max_jobs".
one_run() {
  local d=$1 i c0 c1
  redis-cli -p "$port" flushall >/dev/null
  for i in $(seq 1 "$d"); do
    { printf '[daemon]\nname = "scale-%s"\n' "$i"; redis_section
      printf '[pool]\nchildren = %s\n[health]\nlisten = ""\n' "$children"
      # Not used, but the built-in handler's database is opened at start:
      # out of the checkout.
      printf '[handlers.record_event]\ndatabase = "%s"\n' "$work/events.db"; } > "$work/d$i.toml"
  done
  "$bin" enqueue -c "$work/d1.toml" --count "$jobs" noop '{}' >/dev/null
  c0=$(redis_cpu)
  bench_pids=()
  for i in $(seq 1 "$d"); do
    "$bin" run -c "$work/d$i.toml" --burst 2>"$work/d$i.log" &
    bench_pids+=($!)
  done
  for i in "${!bench_pids[@]}"; do
    wait "${bench_pids[$i]}" || { cat "$work/d$((i + 1)).log" >&2; exit 1; }
  done
  bench_pids=()
  c1=$(redis_cpu)
  sed -n 's/.*stopped: \([0-9]*\) jobs done.* busy \([0-9.]*\) s.*/\1 \2/p' "$work"/d*.log |
    awk -v d="$d" -v n="$jobs" -v c="$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" '
      {sum += $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1; if ($2 > busy) busy = $2}
      END {
        if (NR != d || sum != n) {printf "scale: %d daemons reported %d of %d jobs\n", NR, sum, n > "/dev/stderr"; exit 1}
        printf "%d %d %.3f %.4f %d %d\n", d, sum, busy, c, lo, hi
      }'
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : 0)}'; }
mkdir -p "$(dirname "$out")" "$(dirname "$tsv")"
printf 'daemons\tjobs\tbusy_max_s\tredis_cpu_s\tmin_jobs\tmax_jobs\n' > "$tsv"
rows=()
for d in $counts; do
  echo "== scale: $d daemons × $children children, $jobs noop ($runs runs)" >&2
  : > "$work/runs"
  for _ in $(seq 1 "$runs"); do
    one_run "$d" > "$work/line"
    line=$(cat "$work/line")
    echo "   daemons jobs busy_s redis_cpu_s min max: $line" >&2
    echo "$line" >> "$work/runs"
    tr ' ' '\t' <<< "$line" >> "$tsv"
  done
  rate=$(awk '{printf "%.0f\n", $2 / ($3 > 0 ? $3 : 0.001)}' "$work/runs" | median)
  cpu=$(awk '{printf "%.2f\n", $4 * 1e6 / $2}' "$work/runs" | median)
  lo=$(awk '{print $5}' "$work/runs" | median)
  hi=$(awk '{print $6}' "$work/runs" | median)
  fair=$(awk '{printf "%.2f\n", ($6 > 0 ? $5 / $6 : 0)}' "$work/runs" | median)
  rows+=("| one Redis | $d × $children | $rate | $cpu | $lo / $hi | $fair |")
done
{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), loopback; load average at start $load; $jobs noop jobs on one shared queue, every daemon \`run --burst\` with the default pool settings; median of $runs runs."
  echo
  echo "| Redis | daemons × children | jobs/s | redis-server CPU µs per job | jobs per daemon, min / max | min / max |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$out"
echo
cat "$out"
echo
echo "scale: table in $out, runs in $tsv"
