#!/usr/bin/env bash
# quickstart.sh: from nothing to forkpool doing its job. Installs missing
# Debian packages, builds an optimised binary, starts a private redis-server on
# a free loopback port, enqueues 10,000 record_event jobs, runs
# `forkpool run --burst` with 4 children while showing progress, prints a
# summary and stops Redis. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_BUILD_DIR:-build}
jobs=${FP_QUICKSTART_JOBS:-10000}
work=${FP_QUICKSTART_DIR:-${TMPDIR:-/tmp}/forkpool-quickstart}

echo "== quickstart: checking packages"
scripts/bootstrap.sh

echo "== quickstart: building $build_dir (release)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool
bin=$(pwd)/$build_dir/forkpool
"$bin" version
"$bin" check-config -c config.example.toml >/dev/null
echo "== quickstart: config.example.toml is valid"

rm -rf "$work"
mkdir -p "$work"
redis_pid=""
fp_pid=""
cleanup() {
  [ -n "$fp_pid" ] && kill "$fp_pid" 2>/dev/null && wait "$fp_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  true
}
trap cleanup EXIT

# shellcheck source=scripts/private-redis.sh
. scripts/private-redis.sh
start_private_redis "$work"
echo "== quickstart: redis-server on 127.0.0.1:$port (data in $work)"

cat > "$work/forkpool.toml" <<EOF
[daemon]
name = "quickstart"
log_file = "$work/forkpool.log"
[redis]
url = "redis://127.0.0.1:$port/0"
[pool]
children = 4
[health]
listen = ""
[handlers.record_event]
database = "$work/events.db"
EOF

echo "== quickstart: enqueueing $jobs record_event jobs"
seq 1 "$jobs" | awk '{printf "{\"action\":\"login\",\"timestamp\":\"2026-11-22T10:00:00Z\",\"org_id\":\"org-%d\",\"user_id\":\"user-%d\",\"object_id\":\"session-%d\",\"object_type\":\"session\"}\n", $1 % 7, $1, $1}' \
  | "$bin" enqueue -c "$work/forkpool.toml" record_event -

echo "== quickstart: forkpool run --burst with 4 children"
start=$(date +%s.%N)
"$bin" run -c "$work/forkpool.toml" --burst &
fp_pid=$!
while kill -0 "$fp_pid" 2>/dev/null; do
  left=$(redis-cli -p "$port" xlen 'fp:{default}:jobs' 2>/dev/null || echo "?")
  printf '\r   jobs left in Redis: %-8s' "$left"
  sleep 0.1
done
set +e
wait "$fp_pid"
status=$?
set -e
fp_pid=""
end=$(date +%s.%N)
printf '\r   jobs left in Redis: %-8s\n' "$(redis-cli -p "$port" xlen 'fp:{default}:jobs')"

rows=$(sqlite3 "$work/events.db" 'SELECT count(*) FROM events')
dead=$(redis-cli -p "$port" xlen 'fp:{default}:dead')
busy=$(sed -n 's/.*busy \([0-9.]*\) s.*/\1/p' "$work/forkpool.log")
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')
rate=$(awk -v n="$rows" -v s="${busy:-$seconds}" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')

echo "== quickstart: summary"
echo "   forkpool exit status:   $status"
echo "   jobs enqueued:          $jobs"
echo "   rows in events table:   $rows"
echo "   failures (dead jobs):   $dead"
echo "   wall time of the run:   ${seconds} s (start-up and drain included)"
echo "   processing time:        ${busy:-?} s, ${rate} jobs/s"
echo "   events database:        $work/events.db"
echo "   daemon log:             $work/forkpool.log"
[ "$status" -eq 0 ] && [ "$rows" -eq "$jobs" ] && [ "$dead" -eq 0 ]
