#!/usr/bin/env bash
# quickstart.sh: from nothing to forkpool doing its job. Installs the missing
# Debian packages it needs, builds an optimised binary, enqueues 10,000
# record_event jobs, runs `forkpool run --burst` with 4 children while showing
# progress, and prints a summary. Safe to run again.
#   scripts/quickstart.sh           on the embedded queue: one SQLite file, no
#                                   server to install or run
#   scripts/quickstart.sh --redis   on a private redis-server started on a free
#                                   loopback port (and stopped at the end)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=embedded
case "${1:-}" in
  "") ;;
  --redis) mode=redis ;;
  *) echo "usage: scripts/quickstart.sh [--redis]" >&2; exit 64 ;;
esac

build_dir=${FP_BUILD_DIR:-build}
jobs=${FP_QUICKSTART_JOBS:-10000}
work=${FP_QUICKSTART_DIR:-${TMPDIR:-/tmp}/forkpool-quickstart}

echo "== quickstart: checking packages"
if [ "$mode" = redis ]; then scripts/bootstrap.sh --redis; else scripts/bootstrap.sh --run; fi

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

# Where the jobs wait. With no [redis] section the daemon picks the embedded
# queue by itself (queue.backend = "auto"); [sqlite] path only keeps its file
# in $work.
if [ "$mode" = redis ]; then
  # shellcheck source=scripts/private-redis.sh
  . scripts/private-redis.sh
  start_private_redis "$work"
  echo "== quickstart: redis-server on 127.0.0.1:$port (data in $work)"
  where=$(printf '[redis]\nurl = "redis://127.0.0.1:%s/0"' "$port")
else
  echo "== quickstart: the embedded queue in $work/forkpool-queue.db (no Redis)"
  where=$(printf '[sqlite]\npath = "%s/forkpool-queue.db"' "$work")
fi

cat > "$work/forkpool.toml" <<CONFIG
[daemon]
name = "quickstart"
log_file = "$work/forkpool.log"
$where
[pool]
children = 4
[health]
listen = ""
[handlers.record_event]
database = "$work/events.db"
CONFIG

# count left: jobs still ready, running or delayed; count dead: jobs that
# failed for good. From `forkpool stats`, the same on both queues.
count() {
  "$bin" stats -c "$work/forkpool.toml" 2>/dev/null |
    awk -v what="$1" '$1 == "default" && !found {print (what == "dead" ? $5 : $2 + $3 + $4); found = 1}
                      END {if (!found) print "?"}'
}

echo "== quickstart: enqueueing $jobs record_event jobs"
seq 1 "$jobs" | awk '{printf "{\"action\":\"login\",\"timestamp\":\"2026-11-22T10:00:00Z\",\"org_id\":\"org-%d\",\"user_id\":\"user-%d\",\"object_id\":\"session-%d\",\"object_type\":\"session\"}\n", $1 % 7, $1, $1}' \
  | "$bin" enqueue -c "$work/forkpool.toml" record_event -

echo "== quickstart: forkpool run --burst with 4 children"
start=$(date +%s.%N)
"$bin" run -c "$work/forkpool.toml" --burst &
fp_pid=$!
while kill -0 "$fp_pid" 2>/dev/null; do
  printf '\r   jobs left: %-8s' "$(count left)"
  sleep 0.1
done
set +e
wait "$fp_pid"
status=$?
set -e
fp_pid=""
end=$(date +%s.%N)
printf '\r   jobs left: %-8s\n' "$(count left)"

rows=$(sqlite3 "$work/events.db" 'SELECT count(*) FROM events')
dead=$(count dead)
queue_line=$(sed -n 's/.*supervisor: \(queue: .*\)/\1/p' "$work/forkpool.log" | head -1)
busy=$(sed -n 's/.*busy \([0-9.]*\) s.*/\1/p' "$work/forkpool.log")
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')
rate=$(awk -v n="$rows" -v s="${busy:-$seconds}" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')

echo "== quickstart: summary"
echo "   ${queue_line:-queue: ?}"
echo "   forkpool exit status:   $status"
echo "   jobs enqueued:          $jobs"
echo "   rows in events table:   $rows"
echo "   failures (dead jobs):   $dead"
echo "   wall time of the run:   ${seconds} s (start-up and drain included)"
echo "   processing time:        ${busy:-?} s, ${rate} jobs/s"
echo "   events database:        $work/events.db"
echo "   daemon log:             $work/forkpool.log"
[ "$mode" = redis ] || echo "   the same on Redis:      scripts/quickstart.sh --redis"
[ "$status" -eq 0 ] && [ "$rows" -eq "$jobs" ] && [ "$dead" = 0 ]
