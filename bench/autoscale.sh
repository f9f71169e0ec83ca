#!/usr/bin/env bash
# autoscale.sh: an autoscale run (scripts/bench.sh --autoscale). Starts a
# private redis-server and a release build of the daemon with
# pool.children = "$FP_AS_RANGE", lets it idle a second, enqueues a backlog
# of sleep jobs, and samples /metrics (bench/autoscale_sample.py) until every
# job is done and the pool is back at its minimum. Writes the samples as a TSV
# (time, jobs/s, queue wait, children) and draws them as a PNG
# (bench/timeline_plot.py). The defaults take about two minutes; a smoke:
#   FP_AS_JOBS=300 FP_AS_RANGE=2..8 FP_AS_UP=200ms FP_AS_IDLE=500ms scripts/bench.sh --autoscale
set -euo pipefail
cd "$(dirname "$0")/.."
# The sampler and the plot run on Debian's python3 (its python3-matplotlib,
# from scripts/bootstrap.sh), whatever python3 is first on PATH.

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
jobs=${FP_AS_JOBS:-4000}
ms=${FP_AS_MS:-50}
range=${FP_AS_RANGE:-2..16}
up=${FP_AS_UP:-1s}
idle=${FP_AS_IDLE:-5s}
tsv=${FP_AS_TSV:-$build_dir/autoscale.tsv}
png=${FP_AS_PNG:-$build_dir/autoscale.png}
min=${range%%..*}

scripts/bootstrap.sh >/dev/null
echo "== autoscale: building $build_dir (release)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool >/dev/null
bin=$(pwd)/$build_dir/forkpool

work=$(mktemp -d /tmp/forkpool-autoscale.XXXXXX)
redis_pid=""
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/private-redis.sh
. scripts/private-redis.sh
start_private_redis "$work"
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat > "$work/autoscale.toml" <<EOF
[daemon]
name = "autoscale"
[redis]
url = "redis://127.0.0.1:$port/0"
[pool]
children = "$range"
scale_up_after = "$up"
idle_timeout = "$idle"
[health]
listen = "127.0.0.1:$hport"
EOF

"$bin" run -c "$work/autoscale.toml" 2>"$work/run.log" &
daemon_pid=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$hport/readyz" >/dev/null || { cat "$work/run.log" >&2; exit 1; }

echo "== autoscale: $jobs sleep jobs of $ms ms on $range children (up after $up, idle $idle)"
mkdir -p "$(dirname "$tsv")"
rm -f "$tsv"
/usr/bin/python3 bench/autoscale_sample.py --port "$hport" --tsv "$tsv" --jobs "$jobs" --min "$min" &
sampler=$!
# A second of the idle pool in the samples before the backlog arrives.
until [ -s "$tsv" ]; do sleep 0.05; done
sleep 1
"$bin" enqueue -c "$work/autoscale.toml" --count "$jobs" sleep "{\"ms\":$ms}" >/dev/null
wait "$sampler"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=""
grep -c "autoscale: up to" "$work/run.log" | sed 's/^/growth steps: /'
grep -c "autoscale: down to" "$work/run.log" | sed 's/^/idle stops: /'
/usr/bin/python3 bench/timeline_plot.py "$tsv" "$png"
echo "autoscale: samples in $tsv, plot in $png"
