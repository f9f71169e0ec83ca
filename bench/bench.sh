#!/usr/bin/env bash
# bench.sh: forkpool's throughput, CPU and memory on this machine. Starts a
# private redis-server on a free loopback port in a temp dir, builds an
# optimised binary, and runs each case 3 times with `forkpool run --burst`
# (4 children) on a pre-filled queue. Prints a Markdown table of medians
# (min-max in brackets) and writes it to $FP_BENCH_OUT (default
# build-bench/bench.md). Timing claims live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# --setup: instead of the throughput table, where a 50 ms set-up is paid
# (before fork, per child, per job), for a C plugin and a Python exec worker.
mode=throughput
[ "${1:-}" = "--setup" ] && mode=setup

# --compare: forkpool side by side with Celery, RQ and BullMQ
# (bench/compare.sh, which installs them), then the Redis and SQLite
# ceilings, latency and the 1,000,000-job backlog (bench/limits.sh),
# in one Markdown file. Takes about half an hour; run it on a quiet machine.
if [ "${1:-}" = "--compare" ]; then
  build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
  tsv=$build_dir/compare.tsv
  # RQ forks a Python process per job (about 15 jobs/s on this 2-core VM,
  # where a fork of a 30 MB process costs tens of ms): a tenth of the jobs,
  # paired in the report with the nearest job count of the others.
  FP_COMPARE_RQ_SCALE=${FP_COMPARE_RQ_SCALE:-0.1} FP_COMPARE_TSV=$tsv \
    FP_COMPARE_OUT=$build_dir/compare.md bench/compare.sh
  FP_RESULTS_TSV=$tsv FP_BENCH_OUT_LIMITS=$build_dir/limits.md bench/limits.sh
  # Again, with the ceiling runs now in the same file.
  python3 bench/report.py "$tsv" --title "$(head -1 "$build_dir/compare.md")" \
    > "$build_dir/compare.md"
  out=${FP_BENCH_OUT:-$build_dir/bench-compare.md}
  cat "$build_dir/compare.md" - "$build_dir/limits.md" > "$out" <<< ""
  echo
  echo "bench: comparison, ceilings, latency and backlog written to $out"
  exit 0
fi

# --autoscale: a pool of 2..16 children under a backlog, sampled over time
# into a TSV and a PNG plot (bench/autoscale.sh).
[ "${1:-}" = "--autoscale" ] && exec bench/autoscale.sh

# --steer: the defaults next to the hand-tuned setting and the Redis-path
# ceiling, with each case's target (bench/steer.sh).
[ "${1:-}" = "--steer" ] && exec bench/steer.sh

# --scale: 1, 2, 4 and 8 daemons on one Redis and one shared queue
# (bench/scale.sh).
[ "${1:-}" = "--scale" ] && exec bench/scale.sh

# --tls: rediss:// next to redis://, noop jobs/s from one run (bench/tls.sh).
[ "${1:-}" = "--tls" ] && exec bench/tls.sh

# --embedded: the embedded SQLite queue beside Redis, synchronous normal and
# full, and the store's own ceiling (bench/embedded.sh).
[ "${1:-}" = "--embedded" ] && exec bench/embedded.sh

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
out=${FP_BENCH_OUT:-$build_dir/bench.md}
runs=${FP_BENCH_RUNS:-3}
children=${FP_BENCH_CHILDREN:-4}

scripts/bootstrap.sh >/dev/null
echo "== bench: building $build_dir (release)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool fp_example_setup_cost >/dev/null
bin=$(pwd)/$build_dir/forkpool

work=$(mktemp -d /tmp/forkpool-bench.XXXXXX)
redis_pid=""
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/private-redis.sh
. scripts/private-redis.sh
start_private_redis "$work"

# "auto" leaves the key out: the daemon's adaptive default (docs/steering.md).
pool_key() { [ "$2" = auto ] || echo "$1 = $2"; }

cat > "$work/bench.toml" <<EOF
[daemon]
name = "bench"
[redis]
url = "redis://127.0.0.1:$port/0"
[pool]
children = $children
$(pool_key prefetch "${FP_BENCH_PREFETCH:-auto}")
$(pool_key pipeline "${FP_BENCH_PIPELINE:-auto}")
[health]
listen = ""
[handlers.record_event]
database = "$work/events.db"
EOF

# VmHWM (peak RSS, kB) of one process, with bash builtins only: the sampler
# must not steal CPU from what it measures on a 2-core machine.
hwm() {
  local key value rest
  while read -r key value rest; do
    [ "$key" = "VmHWM:" ] && { echo "$value"; return; }
  done < "/proc/$1/status" 2>/dev/null
  echo 0
}

# Peak RSS of a pid and of its largest child, sampled every 250 ms while it
# runs (VmHWM is a high-water mark, so sparse samples still see the peak).
sample_rss() {
  local pid=$1 sup=0 child=0 v c kids
  while kill -0 "$pid" 2>/dev/null; do
    v=$(hwm "$pid"); [ "${v:-0}" -gt "$sup" ] && sup=$v
    kids=()
    # The file has no final newline: read fills kids and still returns 1.
    read -r -a kids < "/proc/$pid/task/$pid/children" 2>/dev/null || true
    for c in "${kids[@]}"; do
      v=$(hwm "$c"); [ "${v:-0}" -gt "$child" ] && child=$v
    done
    sleep 0.25
  done
  echo "$sup $child"
}

# One run: enqueue, run --burst under GNU time, report
# "jobs busy_seconds cpu_seconds sup_rss_kb child_rss_kb".
one_run() {
  local count=$1 type=$2 args=$3
  redis-cli -p "$port" flushall >/dev/null
  rm -f "$work"/events.db*
  "$bin" enqueue -c "$work/bench.toml" --count "$count" "$type" "$args" >/dev/null
  /usr/bin/time -f "%U %S" -o "$work/time" "$bin" run -c "$work/bench.toml" --burst \
    2>"$work/run.log" &
  local tpid=$!
  sleep 0.005
  local fpid
  fpid=$(pgrep -P "$tpid" -n forkpool || echo "$tpid")
  local rss
  rss=$(sample_rss "$fpid")
  wait "$tpid"
  local busy done cpu
  done=$(sed -n 's/.*stopped: \([0-9]*\) jobs done.*/\1/p' "$work/run.log")
  busy=$(sed -n 's/.*busy \([0-9.]*\) s.*/\1/p' "$work/run.log")
  cpu=$(awk '{print $1 + $2}' "$work/time")
  if [ "$done" != "$count" ]; then
    echo "bench: expected $count jobs done, got '$done'" >&2
    cat "$work/run.log" >&2
    exit 1
  fi
  echo "$count $busy $cpu $rss"
}

# Median and range of a column over the runs.
stats() {
  sort -g | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%s [%s-%s]", m, a[1], a[NR]}'
}

results=()
bench_case() {
  local name=$1 count=$2 type=$3 args=$4
  echo "== bench: $name ($runs runs)"
  : > "$work/rows"
  for _ in $(seq 1 "$runs"); do
    one_run "$count" "$type" "$args" | tee -a "$work/rows" | sed 's/^/   jobs busy_s cpu_s sup_kb child_kb: /'
  done
  local rate wall cpu sup child
  rate=$(awk '{printf "%.0f\n", $1 / ($2 > 0 ? $2 : 0.001)}' "$work/rows" | stats)
  wall=$(awk '{print $2}' "$work/rows" | stats)
  cpu=$(awk '{printf "%.3f\n", $3 * 1000 / $1}' "$work/rows" | stats)
  sup=$(awk '{printf "%.1f\n", $4 / 1024}' "$work/rows" | stats)
  child=$(awk '{printf "%.1f\n", $5 / 1024}' "$work/rows" | stats)
  results+=("| $name | $rate | $wall | $cpu | $sup | $child |")
}

if [ "$mode" = setup ]; then
  jobs=200
  # One run: config body in $1, extra environment in $2; prints the whole
  # wall time of `run --burst`, start-up included (where init costs show).
  setup_run() {
    printf '[daemon]\nname = "bench"\n[redis]\nurl = "redis://127.0.0.1:%s/0"\n[health]\nlisten = ""\n%s' \
      "$port" "$1" > "$work/setup.toml"
    redis-cli -p "$port" flushall >/dev/null
    "$bin" enqueue -c "$work/setup.toml" --count "$jobs" setup_cost >/dev/null
    local t0 t1
    t0=$(date +%s.%N)
    env $2 "$bin" run -c "$work/setup.toml" --burst 2>"$work/run.log"
    t1=$(date +%s.%N)
    grep -q "stopped: $jobs jobs done" "$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}'
  }
  plugin="$(pwd)/$build_dir/setup_cost.so"
  # Debian's interpreter directly: a version manager's shim (pyenv) is a shell
  # script that would add its own start-up to every child.
  python=/usr/bin/python3
  [ -x "$python" ] || python=$(command -v python3)
  rows=()
  for where in init child_init job; do
    cfg="[pool]
children = $children
plugins = [\"$plugin\"]
[handlers.setup_cost]
where = \"$where\"
ms = 50
"
    t=$(for _ in $(seq 1 "$runs"); do setup_run "$cfg" ""; done | stats)
    rows+=("| C plugin, set-up in \`$where\` | $t |")
    echo "   plugin $where: $t s"
  done
  for where in import job; do
    cfg="[pool]
children = $children
runtime = \"exec\"
command = [\"$python\", \"$(pwd)/bench/setup_worker.py\"]
"
    t=$(for _ in $(seq 1 "$runs"); do setup_run "$cfg" "SETUP_WHERE=$where"; done | stats)
    rows+=("| Python exec worker, set-up at \`$where\` | $t |")
    echo "   python $where: $t s"
  done
  {
    echo "$jobs jobs with a 50 ms set-up, $children children; whole \`run --burst\` wall time in s, start-up included, median of $runs [min-max]."
    echo
    echo "| where the set-up is paid | seconds |"
    echo "|---|---|"
    printf '%s\n' "${rows[@]}"
  } > "$out"
  echo
  cat "$out"
  exit 0
fi

bench_case "noop x 100,000" 100000 noop '{}'
bench_case "record_event x 10,000" 10000 record_event \
  '{"action":"login","timestamp":"2026-11-22T10:00:00Z","org_id":"o1","user_id":"u1","object_id":"x","object_type":"session"}'
bench_case "record_event x 1,000" 1000 record_event \
  '{"action":"login","timestamp":"2026-11-22T10:00:00Z","org_id":"o1","user_id":"u1","object_id":"x","object_type":"session"}'
bench_case "sleep 50 ms x 400" 400 sleep '{"ms":50}'

{
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), loopback; $children children, prefetch ${FP_BENCH_PREFETCH:-auto}, pipeline ${FP_BENCH_PIPELINE:-auto}; median of $runs runs [min-max]."
  echo
  echo "| case | jobs/s | busy wall s | CPU s per 1,000 jobs | supervisor peak RSS MB | child peak RSS MB |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${results[@]}"
} > "$out"
echo
cat "$out"
echo
echo "bench: table written to $out"
