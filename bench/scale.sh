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
# Then the same counts on a Redis Cluster of three masters (one replica
# each, scripts/cluster.sh on free ports): the jobs spread over six queues,
# two on each master, every daemon serving all six (redis.cluster), Redis
# CPU summed over the masters; FP_SCALE_CLUSTER=0 leaves that pass out.
# Writes Markdown ($FP_SCALE_OUT, build-bench/scale.md) and a TSV of every
# run ($FP_SCALE_TSV, build-bench/scale.tsv). Development:
#   FP_SCALE_JOBS=6000 FP_BENCH_RUNS=1 scripts/bench.sh --scale
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

# Where the rows run: "one" (one redis-server on $port) or "cluster" (three
# masters with a replica each, scripts/cluster.sh, seeds on $cl_base). On
# one Redis every daemon serves one queue; a queue lives in one hash slot,
# so on the cluster the jobs go to six queues, two on each master
# (cluster_queues), served by every daemon.
mode=one
queue_names=(default)
redis_section() {
  if [ "$mode" = cluster ]; then
    printf '[redis]\nurl = "redis://127.0.0.1/0"\ncluster = ["127.0.0.1:%s", "127.0.0.1:%s", "127.0.0.1:%s"]\n' \
      "$cl_base" $((cl_base + 1)) $((cl_base + 2))
    printf '[queues]\nnames = [%s]\n' "$(printf '"%s", ' "${queue_names[@]}" | sed 's/, $//')"
  else
    printf '[redis]\nurl = "redis://127.0.0.1:%s/0"\n' "$port"
  fi
}
# The masters' ports: one Redis, or the cluster's three (whichever node is a
# master now).
master_ports() {
  if [ "$mode" = cluster ]; then
    for p in $(seq "$cl_base" $((cl_base + 5))); do
      redis-cli -p "$p" role 2>/dev/null | head -1 | grep -qx master && echo "$p"
    done
  else
    echo "$port"
  fi
}
# redis-server's user + sys CPU seconds so far, summed over the masters.
redis_cpu() {
  local p
  for p in $(master_ports); do redis-cli -p "$p" info cpu; done | tr -d '\r' |
    awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.6f\n", s}'
}
flush_all() { local p; for p in $(master_ports); do redis-cli -p "$p" flushall >/dev/null; done; }
# Six queue names, two in each third of the slots (the masters' default
# ranges after `redis-cli --cluster create`).
cluster_queues() {
  local i=0 slot third n0=0 n1=0 n2=0
  queue_names=()
  while [ "${#queue_names[@]}" -lt 6 ]; do
    slot=$(redis-cli -p "$cl_base" cluster keyslot "{scale$i}")
    third=$((slot * 3 / 16384))
    case $third in
      0) [ $n0 -lt 2 ] && { queue_names+=("scale$i"); n0=$((n0 + 1)); } ;;
      1) [ $n1 -lt 2 ] && { queue_names+=("scale$i"); n1=$((n1 + 1)); } ;;
      2) [ $n2 -lt 2 ] && { queue_names+=("scale$i"); n2=$((n2 + 1)); } ;;
    esac
    i=$((i + 1))
  done
}

# one_run D: D daemons on one pre-filled queue, called in the script's own
# shell so that the exit trap sees bench_pids; prints
# "daemons jobs busy_max redis_cpu_s min_jobs max_jobs".
one_run() {
  local d=$1 i c0 c1
  flush_all
  rm -f "$work"/d*.log # a run of more daemons before this one left its own
  for i in $(seq 1 "$d"); do
    { printf '[daemon]\nname = "scale-%s"\n' "$i"; redis_section
      printf '[pool]\nchildren = %s\n[health]\nlisten = ""\n' "$children"
      # Not used, but the built-in handler's database is opened at start:
      # out of the checkout.
      printf '[handlers.record_event]\ndatabase = "%s"\n' "$work/events.db"; } > "$work/d$i.toml"
  done
  local q per=$((jobs / ${#queue_names[@]}))
  total=$((per * ${#queue_names[@]}))
  for q in "${queue_names[@]}"; do
    "$bin" enqueue -c "$work/d1.toml" --queue "$q" --count "$per" noop '{}' >/dev/null
  done
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
  burst_line "$work"/d*.log |
    awk -v d="$d" -v n="$total" -v c="$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" '
      {sum += $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1; if ($2 > busy) busy = $2}
      END {
        if (NR != d || sum != n) {printf "scale: %d daemons reported %d of %d jobs\n", NR, sum, n > "/dev/stderr"; exit 1}
        printf "%d %d %.3f %.4f %d %d\n", d, sum, busy, c, lo, hi
      }'
}

# A base port N with N..N+5 and N+10000..N+10005 (the cluster bus) free.
free_base() {
  local b p ok
  for _ in $(seq 1 50); do
    b=$((20000 + RANDOM % 20000)); ok=1
    for p in $(seq "$b" $((b + 5))) $(seq $((b + 10000)) $((b + 10005))); do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { ok=0; break; }
    done
    [ "$ok" = 1 ] && { echo "$b"; return; }
  done
  echo "scale: no free ports for the cluster" >&2; exit 1
}
mkdir -p "$(dirname "$out")" "$(dirname "$tsv")"
printf 'redis\tdaemons\tjobs\tbusy_max_s\tredis_cpu_s\tmin_jobs\tmax_jobs\n' > "$tsv"
rows=()
# rows LABEL: one row per daemon count on the current mode's Redis.
run_rows() {
  local d line rate cpu lo hi fair
  for d in $counts; do
    echo "== scale: $1, $d daemons × $children children, $jobs noop ($runs runs)" >&2
    : > "$work/runs"
    for _ in $(seq 1 "$runs"); do
      one_run "$d" > "$work/line"
      line=$(cat "$work/line")
      echo "   daemons jobs busy_s redis_cpu_s min max: $line" >&2
      echo "$line" >> "$work/runs"
      printf '%s\t%s\n' "$mode" "$(tr ' ' '\t' <<< "$line")" >> "$tsv"
    done
    rate=$(awk '{printf "%.0f\n", $2 / ($3 > 0 ? $3 : 0.001)}' "$work/runs" | median)
    cpu=$(awk '{printf "%.2f\n", $4 * 1e6 / $2}' "$work/runs" | median)
    lo=$(awk '{print $5}' "$work/runs" | median)
    hi=$(awk '{print $6}' "$work/runs" | median)
    fair=$(awk '{printf "%.2f\n", ($6 > 0 ? $5 / $6 : 0)}' "$work/runs" | median)
    rows+=("| $1 | $d × $children | $rate | $cpu | $lo / $hi | $fair |")
  done
}
run_rows "one Redis, one queue"
# The cluster pass (FP_SCALE_CLUSTER=0 leaves it out): a private cluster on
# free ports, stopped on exit with the rest.
if [ "${FP_SCALE_CLUSTER:-1}" != 0 ]; then
  cl_base=$(free_base)
  cl_dir="$work/cluster"
  trap 'FP_CLUSTER_BASE=$cl_base scripts/cluster.sh stop "$cl_dir" >/dev/null 2>&1; bench_env_cleanup' EXIT
  FP_CLUSTER_BASE=$cl_base scripts/cluster.sh start "$cl_dir" >/dev/null
  mode=cluster
  cluster_queues
  run_rows "Cluster, 3 masters, 6 queues"
fi
{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), loopback; load average at start $load; $jobs noop jobs (on one queue; on the cluster, six queues with two on each master, every daemon serving all six), every daemon \`run --burst\` with the default pool settings; Redis CPU summed over the masters; median of $runs runs."
  echo
  echo "| Redis | daemons × children | jobs/s | redis-server CPU µs per job | jobs per daemon, min / max | min / max |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$out"
echo
cat "$out"
echo
echo "scale: table in $out, runs in $tsv"
