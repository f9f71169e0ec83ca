#!/usr/bin/env bash
# tls.sh: rediss:// next to redis:// (scripts/bench.sh --tls). One private
# redis-server with both a plain and a TLS port (certificates made here with
# the openssl command); FP_BENCH_RUNS (3) rounds, each one `run --burst` of
# one daemon with FP_TLS_CHILDREN (2) children over FP_TLS_JOBS (100,000)
# pre-filled noop jobs through the plain port and then the same through the
# TLS port (the relay of lib/redis/tls_relay.c). jobs/s is the jobs over the
# daemon's busy time (its "stopped:" line); medians, and TLS over plain.
# Writes Markdown ($FP_TLS_OUT, build-bench/tls.md). Smoke:
#   FP_TLS_JOBS=5000 FP_BENCH_RUNS=1 scripts/bench.sh --tls
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
runs=${FP_BENCH_RUNS:-3}
jobs=${FP_TLS_JOBS:-100000}
children=${FP_TLS_CHILDREN:-2}
out=${FP_TLS_OUT:-$build_dir/tls.md}

load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== tls: load average at start: $load" >&2
scripts/bootstrap.sh >/dev/null
echo "== tls: building $build_dir (release)" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool >/dev/null
bin=$(cd "$build_dir" && pwd)/forkpool

# shellcheck source=bench/bench_env.sh
. bench/bench_env.sh
bench_env tls

(cd "$work" && {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca
  printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=bench-redis
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 2 -extfile san.ext
} 2>/dev/null)
tls_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-cli -p "$port" config set tls-cert-file "$work/server.crt" tls-key-file "$work/server.key" \
  tls-ca-cert-file "$work/ca.crt" tls-auth-clients no >/dev/null
redis-cli -p "$port" config set tls-port "$tls_port" | grep -q OK

for mode in plain tls; do
  if [ "$mode" = plain ]; then
    printf '[redis]\nurl = "redis://127.0.0.1:%s/0"\n' "$port"
  else
    printf '[redis]\nurl = "rediss://127.0.0.1:%s/0"\ntls_ca = "%s"\n' "$tls_port" "$work/ca.crt"
  fi > "$work/$mode.toml"
  { printf '[pool]\nchildren = %s\n[health]\nlisten = ""\n' "$children"
    printf '[handlers.record_event]\ndatabase = "%s"\n' "$work/events.db"; } >> "$work/$mode.toml"
done

# one_run MODE: prints the jobs/s of one burst over MODE's URL.
one_run() {
  local mode=$1
  redis-cli -p "$port" flushall >/dev/null
  "$bin" enqueue -c "$work/plain.toml" --count "$jobs" noop '{}' >/dev/null
  "$bin" run -c "$work/$mode.toml" --burst 2>"$work/$mode.log" &
  fp_pid=$!
  wait "$fp_pid" || { cat "$work/$mode.log" >&2; exit 1; }
  fp_pid=""
  burst_line "$work/$mode.log" |
    awk -v n="$jobs" -v m="$mode" '
      $1 != n {printf "tls: %s run did %d of %d jobs\n", m, $1, n > "/dev/stderr"; exit 1}
      {printf "%.0f\n", $1 / ($2 > 0 ? $2 : 0.001)}'
}

: > "$work/plain.runs"
: > "$work/tls.runs"
for r in $(seq 1 "$runs"); do
  for mode in plain tls; do
    rate=$(one_run "$mode")
    echo "   round $r $mode: $rate jobs/s" >&2
    echo "$rate" >> "$work/$mode.runs"
  done
done
plain=$(median < "$work/plain.runs")
tls=$(median < "$work/tls.runs")
ratio=$(awk -v a="$tls" -v b="$plain" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
mkdir -p "$(dirname "$out")"
{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), loopback, one server with a plain and a TLS port; load average at start $load; $jobs noop jobs, one daemon \`run --burst\` with $children children; median of $runs alternating runs."
  echo
  echo "| URL | jobs/s | over plain |"
  echo "|---|---|---|"
  echo "| redis:// | $plain | 1.00 |"
  echo "| rediss:// (TLS relay) | $tls | $ratio |"
} > "$out"
echo
cat "$out"
