#!/usr/bin/env bash
# compare.sh: forkpool side by side with Celery, RQ and BullMQ on this
# machine, in one run against one private redis-server: the same workloads
# (noop, sleep 50 ms, record_event into SQLite), 4 workers each, queue
# pre-filled, start-up timed separately and subtracted. Installs what is
# missing (Debian: python3-celery, python3-rq, python3-redis; npm: bullmq and
# better-sqlite3 into the build directory, never into the repo), builds an
# optimised forkpool, then measures one system after another with
# bench/peers/driver.py and prints bench/report.py's tables.
# forkpool's Python worker (python/forkpool/worker.py serving
# bench/peers/fp_app.py) has rows beside Celery's prefork pool (sync noop and
# sleep 50 ms) and, at concurrency 50 per child, an `await asyncio.sleep(0.05)`
# case beside Celery's gevent and eventlet pools (4 processes x -c 50; Debian
# python3-gevent, python3-eventlet, skipped when not installable).
#
# Environment:
#   FP_BENCH_RUNS=3            runs per system and case (the median is shown)
#   FP_COMPARE_ONLY="forkpool celery"  only these systems: forkpool (all five
#                              settings), forkpool-auto, forkpool-p0, forkpool-p4, forkpool-p4q1,
#                              forkpool-p64q16, forkpool-py (Python worker),
#                              forkpool-py-c50 (its async handlers, concurrency 50),
#                              celery (prefork and both green pools), celery-gevent,
#                              celery-eventlet, rq, bullmq (both modes), bullmq-inproc,
#                              bullmq-sandboxed
#   FP_COMPARE_SCALE=1         multiplies every job count (0.1 while developing)
#   FP_COMPARE_RQ_SCALE=1      multiplies RQ's job counts once more: RQ forks per
#                              job and may run only tens of jobs/s on a busy
#                              2-core machine; the report pairs its rows with
#                              the nearest job count and says so
#   FP_COMPARE_STARTUPS=3      empty-queue start-ups timed per run (median subtracted)
#   FP_BENCH_BUILD_DIR=build-bench
#   FP_COMPARE_OUT=$build_dir/compare.md  the Markdown tables
#   FP_COMPARE_TSV=$build_dir/compare.tsv the raw runs (one line each)
#   FP_COMPARE_KEEP=1          keep the work dir (worker logs, trace.log)
# Run under `nice` while others use the machine; never in the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
runs=${FP_BENCH_RUNS:-3}
scale=${FP_COMPARE_SCALE:-1}
only=${FP_COMPARE_ONLY:-}
out=${FP_COMPARE_OUT:-$build_dir/compare.md}
tsv_copy=${FP_COMPARE_TSV:-$build_dir/compare.tsv}
# forkpool: its defaults (the adaptive hold and send-ahead, docs/steering.md),
# prefetch 0 (a job is pulled only for a free child), prefetch = children
# (held jobs wait in the supervisor), the same with pipeline 1 (one job sent
# ahead to each busy child), and the setting for tiny jobs (prefetch 64,
# pipeline 16).
all_systems=(forkpool-auto forkpool-p0 forkpool-p4 forkpool-p4q1 forkpool-p64q16 forkpool-py forkpool-py-c50
             celery celery-gevent celery-eventlet rq bullmq-inproc bullmq-sandboxed)

# FP_COMPARE_ONLY tokens: a system's own name, or the part before its "-".
selected=()
for s in "${all_systems[@]}"; do
  if [ -z "$only" ]; then selected+=("$s"); continue; fi
  for tok in $only; do
    if [ "$tok" = "$s" ] || [ "$tok" = "${s%%-*}" ]; then selected+=("$s"); break; fi
  done
done
[ ${#selected[@]} -gt 0 ] || { echo "bench_compare: FP_COMPARE_ONLY='$only' selects nothing (${all_systems[*]})" >&2; exit 64; }
# wants PATTERN: is a selected system matched by the glob PATTERN?
# shellcheck disable=SC2254 # the pattern is a glob on purpose
wants() { local s; for s in "${selected[@]}"; do case $s in $1) return 0 ;; esac; done; return 1; }

scripts/bootstrap.sh >/dev/null

# Debian packages for the Python peers, only those missing.
need=()
if wants 'celery*' || wants rq; then
  for p in python3-redis $(wants 'celery*' && echo python3-celery) $(wants rq && echo python3-rq); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
fi
if wants 'bullmq*' && ! command -v node >/dev/null; then
  need+=(nodejs npm)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "== compare: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Celery's green pools, where the distribution has them: a system whose
# package cannot be installed is left out, not the end of the run.
for pool in gevent eventlet; do
  wants "celery-$pool" || continue
  dpkg-query -W -f='${Status}' "python3-$pool" 2>/dev/null | grep -q 'install ok installed' && continue
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "python3-$pool" >/dev/null; then
    echo "== compare: python3-$pool is not installable here; celery-$pool left out" >&2
    kept=()
    for s in "${selected[@]}"; do [ "$s" = "celery-$pool" ] || kept+=("$s"); done
    selected=("${kept[@]}")
  fi
done
[ ${#selected[@]} -gt 0 ] || { echo "bench_compare: nothing left to measure" >&2; exit 1; }

# BullMQ (and better-sqlite3 for record_event, built from its bundled SQLite
# against the local Node headers: no prebuilt download) into the build dir.
node_dir=$repo/$build_dir/peers-node
if wants 'bullmq*'; then
  mkdir -p "$node_dir"
  if ! cmp -s bench/peers/package.json "$node_dir/package.json" || [ ! -d "$node_dir/node_modules/bullmq" ]; then
    echo "== compare: npm install into $node_dir"
    cp bench/peers/package.json "$node_dir/package.json"
    node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    (cd "$node_dir" && npm_config_build_from_source=true npm_config_nodedir="$node_prefix" \
      npm install --no-audit --no-fund --loglevel=error >npm-install.log 2>&1) || {
      cat "$node_dir/npm-install.log" >&2; exit 1; }
  fi
fi

echo "== compare: building $build_dir (release)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool >/dev/null

work=$(mktemp -d /tmp/forkpool-compare.XXXXXX)
redis_pid=""
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  if [ -n "${FP_COMPARE_KEEP:-}" ]; then echo "bench_compare: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# shellcheck source=scripts/private-redis.sh
. scripts/private-redis.sh
start_private_redis "$work"
port=${port:?}
load=$(cut -d' ' -f1-3 /proc/loadavg)

versions="redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
wants 'forkpool*' && versions+=", forkpool $("$build_dir/forkpool" version 2>/dev/null | awk '{print $NF}')"
if wants 'celery*' || wants rq || wants 'forkpool-py*'; then
  versions+=", $(/usr/bin/python3 -c 'import sys, sqlite3; print("Python %d.%d.%d (SQLite %s)" % (sys.version_info[:3] + (sqlite3.sqlite_version,)))')"
fi
wants 'celery*' && versions+=", Celery $(/usr/bin/python3 -c 'import celery; print(celery.__version__)')"
wants celery-gevent && versions+=", gevent $(/usr/bin/python3 -c 'import gevent; print(gevent.__version__)')"
wants celery-eventlet && versions+=", eventlet $(/usr/bin/python3 -c 'import eventlet; print(eventlet.__version__)')"
wants rq && versions+=", RQ $(/usr/bin/python3 -c 'import rq; print(rq.VERSION)')"
if wants 'bullmq*'; then
  versions+=", Node.js $(node --version), BullMQ $(node -p 'require(process.argv[1]).version' "$node_dir/node_modules/bullmq/package.json")"
  if NODE_PATH=$node_dir/node_modules node -e 'require("better-sqlite3")' 2>/dev/null; then
    versions+=" (better-sqlite3 $(node -p 'require(process.argv[1]).version' "$node_dir/node_modules/better-sqlite3/package.json"))"
  fi
fi

results=$work/results.tsv
: > "$results"
for s in "${selected[@]}"; do
  echo "== compare: $s ($runs runs per case)"
  [ "$s" = bullmq-inproc ] && s=bullmq
  s_scale=$scale
  [ "$s" = rq ] && s_scale=$(awk -v a="$scale" -v b="${FP_COMPARE_RQ_SCALE:-1}" 'BEGIN {print a * b}')
  # A system that fails is reported in the tables, not the end of the run:
  # the driver records a failed case itself; this line covers a driver that
  # could not run at all.
  if ! python3 bench/peers/driver.py "$s" --port "$port" --work "$work" --out "$results" \
    --runs "$runs" --scale "$s_scale" --startups "${FP_COMPARE_STARTUPS:-3}" --forkpool "$repo/$build_dir/forkpool" \
    --peers "$repo/bench/peers" --node-modules "$node_dir/node_modules"; then
    echo "== compare: $s: the driver failed (above); going on with the next system" >&2
    printf '%s\t(every case)\t0\tfailed: the driver exited with an error, see its output\n' "$s" >>"$results"
  fi
done

mkdir -p "$(dirname "$out")" "$(dirname "$tsv_copy")"
cp "$results" "$tsv_copy"
cp "$work/trace.log" "${tsv_copy%.tsv}-trace.log"
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
python3 bench/report.py "$results" \
  --title "Machine: $machine (load average $load at the start: the machine is shared); $versions; loopback Redis; 4 workers each; median of $runs runs [min-max]." \
  > "$out"
echo
cat "$out"
echo
echo "bench_compare: tables in $out, runs in $tsv_copy"
