#!/usr/bin/env bash
# embedded.sh: the embedded queue (one SQLite file) beside Redis, in one run
# (scripts/bench.sh --embedded). FP_BENCH_RUNS (3) alternating rounds of:
#   noop x FP_EMB_JOBS (100,000)  `run --burst`, 4 children, default settings:
#                                 jobs/s over the daemon's busy time
#   record_event x 1,000          the daemon's busy time, seconds
# each on a private redis-server, on the embedded queue with
# sqlite.synchronous = "normal" (the default) and with "full". Then the
# store's own ceiling (bench/ceiling_sqlq.c: one process pulling and acking
# batches of 64, no pool), normal and full. Medians; Markdown to
# $FP_EMB_OUT (build-bench/embedded.md). Targets (issue 19): noop >= 50,000
# jobs/s and record_event x 1,000 under 0.1 s on the embedded queue.
# Smoke: FP_EMB_JOBS=5000 FP_BENCH_RUNS=1 scripts/bench.sh --embedded
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
runs=${FP_BENCH_RUNS:-3}
jobs=${FP_EMB_JOBS:-100000}
events=1000
out=${FP_EMB_OUT:-$build_dir/embedded.md}

load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== embedded: load average at start: $load" >&2
scripts/bootstrap.sh --redis >/dev/null
echo "== embedded: building $build_dir (release)" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool fp_bench_ceiling_sqlq >/dev/null
bin=$(cd "$build_dir" && pwd)/forkpool
ceiling=$(cd "$build_dir" && pwd)/ceiling_sqlq

# shellcheck source=bench/bench_env.sh
. bench/bench_env.sh
bench_env embedded

event='{"action":"login","timestamp":"2026-11-22T10:00:00Z","org_id":"o1","user_id":"u1","object_id":"x","object_type":"session"}'
common() {
  printf '[daemon]\nname = "bench"\n[pool]\nchildren = 4\n[health]\nlisten = ""\n'
  printf '[handlers.record_event]\ndatabase = "%s"\n' "$work/events.db"
}
{ printf '[redis]\nurl = "redis://127.0.0.1:%s/0"\n' "$port"; common; } > "$work/redis.toml"
for sync in normal full; do
  { printf '[queue]\nbackend = "sqlite"\n[sqlite]\npath = "%s"\nsynchronous = "%s"\n' \
      "$work/queue-$sync.db" "$sync"; common; } > "$work/$sync.toml"
done

# empty MODE: a fresh queue for MODE (redis, normal, full).
empty() {
  if [ "$1" = redis ]; then
    redis-cli -p "$port" flushall >/dev/null
  else
    rm -f "$work/queue-$1.db" "$work/queue-$1.db-wal" "$work/queue-$1.db-shm"
  fi
}

# one_run MODE N TYPE ARGS: prints "jobs/s busy_s" of one burst.
one_run() {
  local mode=$1 n=$2
  empty "$mode"
  "$bin" enqueue -c "$work/$mode.toml" --count "$n" "$3" "$4" >/dev/null
  "$bin" run -c "$work/$mode.toml" --burst 2>"$work/$mode.log" &
  fp_pid=$!
  wait "$fp_pid" || { cat "$work/$mode.log" >&2; exit 1; }
  fp_pid=""
  burst_line "$work/$mode.log" |
    awk -v n="$n" -v m="$mode" '
      $1 != n {printf "embedded: %s run did %d of %d jobs\n", m, $1, n > "/dev/stderr"; exit 1}
      {printf "%.0f %.3f\n", $1 / ($2 > 0 ? $2 : 0.001), $2}'
}

for mode in redis normal full; do : > "$work/$mode.noop"; : > "$work/$mode.event"; done
for r in $(seq 1 "$runs"); do
  for mode in redis normal full; do
    read -r rate _ < <(one_run "$mode" "$jobs" noop '{}')
    read -r _ busy < <(one_run "$mode" "$events" record_event "$event")
    echo "   round $r $mode: noop $rate jobs/s, record_event x $events $busy s" >&2
    echo "$rate" >> "$work/$mode.noop"
    echo "$busy" >> "$work/$mode.event"
  done
done

# ceiling SYNC: the store alone, drain jobs/s.
ceiling_run() {
  "$ceiling" "$work/ceiling.db" "$jobs" 1 64 ${1:+"$1"} |
    sed -n 's/.*drain_per_s=\([0-9.]*\).*/\1/p' | awk '{printf "%.0f\n", $1}'
}
ceil_normal=$(for r in $(seq 1 "$runs"); do ceiling_run ""; done | median)
ceil_full=$(for r in $(seq 1 "$runs"); do ceiling_run full; done | median)

m() { median < "$work/$1"; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN {
  ok = (op == ">=" ? v >= t : v < t); print (ok ? "yes" : "no") }'; }
noop_n=$(m normal.noop)
event_n=$(m normal.event)
mkdir -p "$(dirname "$out")"
{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on loopback; SQLite $(sqlite3 --version | cut -d' ' -f1); load average at start $load; one daemon \`run --burst\` with 4 children and default settings; median of $runs alternating rounds."
  echo
  echo "| case | Redis | embedded, synchronous = normal | embedded, synchronous = full | target (embedded, normal) | met? |"
  echo "|---|---|---|---|---|---|"
  echo "| noop x $jobs, jobs/s | $(m redis.noop) | $noop_n | $(m full.noop) | >= 50,000 | $(verdict "$noop_n" 50000 ">=") |"
  echo "| record_event x $events, busy s | $(m redis.event) | $event_n | $(m full.event) | < 0.1 | $(verdict "$event_n" 0.1 "<") |"
  echo "| the store alone (ceiling_sqlq, batches of 64), jobs/s | | $ceil_normal | $ceil_full | | |"
} > "$out"
echo
cat "$out"
