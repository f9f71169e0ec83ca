#!/usr/bin/env bash
# limits.sh: how close forkpool comes to the limits of its design on
# this machine. Builds the release binary and the tools in bench/, starts a
# private redis-server, and measures:
#   Ceilings  the Redis path alone (bench/ceiling_redis: forkpool's own
#             outcome script with the next pull right behind it in one
#             write, full batches of B = children + prefetch,
#             nothing run) next to forkpool on the same noop queue; SQLite
#             alone (bench/ceiling_sqlite: record_event's inserts in a loop).
#   Latency   XADD to handler start (bench/latency_send + the latency_probe
#             plugin), idle at 1,000 jobs/s and at 50 % and 90 % of the
#             capacity measured just before with the sender running (it
#             sends as fast as it can; a burst's figure beside it), with
#             prefetch 0 and prefetch = children.
#   Backlog   1,000,000 queued noop jobs through `run --burst`: supervisor
#             RSS and the rate, sampled every second (XLEN: every outcome
#             XDELs its entry).
# Figures move with whatever else runs on the machine: the load average at
# start is printed with them.
# Prints Markdown to stdout and to $FP_BENCH_OUT_LIMITS (default
# build-bench/limits.md); appends ceiling runs to $FP_RESULTS_TSV when set.
# FP_LIMITS_SCALE (e.g. 0.05) shrinks every count, for development.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
out=${FP_BENCH_OUT_LIMITS:-$build_dir/limits.md}
runs=${FP_BENCH_RUNS:-3}
children=${FP_BENCH_CHILDREN:-4}
scale=${FP_LIMITS_SCALE:-1}
tsv=${FP_RESULTS_TSV:-}

# A count shrunk by FP_LIMITS_SCALE, never below a floor that still measures.
scaled() {
  awk -v n="$1" -v s="$scale" -v min="${2:-100}" \
    'BEGIN {v = int(n * s); if (v < min) v = min; if (v > n) v = n; print v}'
}
n_ceiling=$(scaled 200000)
n_sqlite=$(scaled 10000)
n_capacity=$(scaled 100000 1000)
n_latency=$(scaled 10000 500)
n_backlog=$(scaled 1000000 10000)
idle_rate=1000

scripts/bootstrap.sh >/dev/null
echo "== limits: building $build_dir (release)" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool fp_bench_ceiling_redis \
  fp_bench_ceiling_sqlite fp_bench_latency_send fp_bench_latency_probe >/dev/null
bdir=$(cd "$build_dir" && pwd)
bin=$bdir/forkpool

# shellcheck source=bench/bench_env.sh
. bench/bench_env.sh
bench_env limits
rcli() { redis-cli -p "$port" "$@"; }
jobs_key='fp:{default}:jobs'

# With prefetch > 0 every prefetched job may wait in a child (pool.pipeline
# = prefetch / children): the throughput settings. Prefetch = children is the
# issue's; 16 x children is the tuned one for tiny jobs.
pipeline_for() { local q=$(($1 / children)); [ "$1" != 0 ] && [ "$q" = 0 ] && q=1; echo "$q"; }
# "prefetch P" or "prefetch P, pipeline Q", for labels.
setting() {
  local q
  q=$(pipeline_for "$1")
  if [ "$q" = 0 ]; then echo "prefetch $1"; else echo "prefetch $1, pipeline $q"; fi
}

# config PREFETCH [PLUGIN SAMPLES]: a config file for one kind of run.
config() {
  local f="$work/fp-$1${2:+-probe}${4:+-$4}.toml"
  {
    printf '[daemon]\nname = "bench"\n[redis]\nurl = "redis://127.0.0.1:%s/0"\n' "$port"
    printf '[pool]\nchildren = %s\nprefetch = %s\npipeline = %s\n' "$children" "$1" "$(pipeline_for "$1")"
    [ -n "${2:-}" ] && printf 'plugins = ["%s"]\n' "$2"
    printf '[health]\nlisten = ""\n[handlers.record_event]\ndatabase = "%s"\n' "$work/events.db"
    [ -n "${2:-}" ] && printf '[handlers.latency_probe]\n%s = "%s"\n' "${4:-file}" "$3"
    true
  } > "$f"
  echo "$f"
}

# Median and range of one column of numbers.
stats() {
  sort -g | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%s [%s-%s]", m, a[1], a[NR]}'
}
# key=value from a tool's one-line output.
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p"; }

# start_daemon, stop_daemon and the latency runs.
# shellcheck source=bench/latency_lib.sh
. bench/latency_lib.sh

machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), loopback; $children children; load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
md=()
say() { md+=("$1"); }

# ---- Ceilings ---------------------------------------------------------------
tsv_line() { [ -n "$tsv" ] && printf '%s\t%s\t%s\t%s\t0\t%s\t0\n' "$@" >> "$tsv"; true; }
# Redis' CPU (user + sys) and its EVALSHA and XREADGROUP counts since the last
# CONFIG RESETSTAT; commands run inside scripts are counted too (Redis 7).
rsnap() {
  rcli info all | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_evalsha:/ {e = $3}
    /^cmdstat_xreadgroup:/ {x = $3} /^used_cpu_sys:/ {s = $2} /^used_cpu_user:/ {u = $2}
    END {printf "%.6f %d %d\n", s + u, e, x}'
}
# measured CMD...: runs CMD between two snapshots; prints its output followed
# by r_cpu=... evalsha=... xread=...
measured() {
  local c0 c1 e x rest out
  rcli config resetstat >/dev/null
  read -r c0 rest <<< "$(rsnap)"
  out=$("$@")
  read -r c1 e x <<< "$(rsnap)"
  echo "$out $(awk -v a="$c0" -v b="$c1" -v e="$e" -v x="$x" \
    'BEGIN {printf "r_cpu=%.3f evalsha=%d xread=%d", b - a, e, x}')"
}
# `run --burst` under GNU time, as "jobs=N seconds=BUSY cpu_s=C".
fp_burst() {
  /usr/bin/time -f "%U %S" -o "$work/time" "$bin" run -c "$1" --burst 2>"$work/run.log"
  local line
  line=$(burst_line "$work/run.log")
  echo "jobs=${line% *} seconds=${line#* } cpu_s=$(awk '{print $1 + $2}' "$work/time")"
}
# col FILE EXPR [DECIMALS]: median [min-max] of an awk expression over the
# key=value lines of FILE (v["jobs"]...).
col() {
  awk "{delete v; for (i = 1; i <= NF; i++) {split(\$i, kv, \"=\"); v[kv[1]] = kv[2]}
        printf \"%.${3:-0}f\\n\", $2}" "$1" | stats
}
row() { # row LABEL FILE: one table row from the runs in FILE
  rows+=("| $1 | $(col "$2" 'v["jobs"] / v["seconds"]') | $(col "$2" 'v["cpu_s"] * 1000 / v["jobs"]' 3) | $(col "$2" 'v["r_cpu"] * 1000 / v["jobs"]' 3) | $(col "$2" 'v["evalsha"] * 1000 / v["jobs"]') | $(col "$2" 'v["xread"] * 1000 / v["jobs"]') |")
}

echo "== limits: Redis-path ceiling, $n_ceiling noop ($runs runs per batch size)" >&2
rows=()
for prefetch in 0 "$children" $((16 * children)); do
  b=$((children + prefetch))
  for mode in script plain; do
    # The plain-command yardstick is not forkpool's design: one run is enough.
    n_runs=$runs
    [ "$mode" = plain ] && n_runs=1
    : > "$work/ceil"
    for _ in $(seq 1 "$n_runs"); do
      rcli flushall >/dev/null
      "$bin" enqueue -c "$(config 0)" --count "$n_ceiling" noop '{}' >/dev/null
      # Two outcome + pull pairs in flight, as the daemon has while an
      # outcome-only call overlaps its pull: one at a time would be a
      # round-trip bound, which forkpool itself beats at large batches.
      depth=2
      [ "$mode" = plain ] && depth=1
      line=$(measured "$bdir/ceiling_redis" -p "$port" -k "$jobs_key" -g forkpool -c bench \
        -b "$b" -m "$mode" -d "$depth")
      echo "   B=$b $mode: $line" >&2
      echo "$line" >> "$work/ceil"
      if [ "$mode" = script ]; then
        name=ceiling-redis
        [ "$prefetch" != 0 ] && name=ceiling-redis-b$b
        tsv_line "$name" noop "$(echo "$line" | field jobs)" \
          "$(echo "$line" | field seconds)" "$(echo "$line" | field cpu_s)"
      fi
    done
    if [ "$mode" = script ]; then
      row "Redis path alone, B = $b: forkpool's outcome script + pull in one write, full batches, 2 in flight" "$work/ceil"
      ceil=$(col "$work/ceil" 'v["jobs"] / v["seconds"]' | cut -d' ' -f1)
    else
      row "yardstick, not forkpool's design: B = $b as plain XACK + XDEL + XREADGROUP pipelined (1 run)" "$work/ceil"
    fi
  done
  # forkpool itself on the same queue, for the fraction.
  echo "== limits: forkpool on the same $n_ceiling noop, $(setting "$prefetch")" >&2
  : > "$work/fp"
  for _ in $(seq 1 "$runs"); do
    rcli flushall >/dev/null
    cfg=$(config "$prefetch")
    "$bin" enqueue -c "$cfg" --count "$n_ceiling" noop '{}' >/dev/null
    line=$(measured fp_burst "$cfg")
    echo "   forkpool $(setting "$prefetch"): $line" >&2
    echo "$line" >> "$work/fp"
  done
  fp=$(col "$work/fp" 'v["jobs"] / v["seconds"]' | cut -d' ' -f1)
  frac=$(awk -v a="$fp" -v b="$ceil" 'BEGIN {printf "%.0f %%", 100 * a / b}')
  row "**forkpool**, $children children, $(setting "$prefetch") (B = $b): **$frac** of the ceiling above" "$work/fp"
done

echo "== limits: SQLite ceiling, $n_sqlite rows ($runs runs)" >&2
: > "$work/sql"
for _ in $(seq 1 "$runs"); do
  line=$("$bdir/ceiling_sqlite" "$work/ceiling.db" "$n_sqlite")
  echo "   $line" >&2
  echo "$line" >> "$work/sql"
  tsv_line ceiling-sqlite record_event "$(echo "$line" | field rows)" \
    "$(echo "$line" | field seconds)" "$(echo "$line" | field cpu_s)"
done
sqlrate=$(col "$work/sql" 'v["rows"] / v["seconds"]')
sqlcpu=$(col "$work/sql" 'v["cpu_s"] * 1000 / v["rows"]' 3)
rows+=("| SQLite alone: record_event's INSERT, one commit per row, WAL, synchronous=NORMAL, 1 process | $sqlrate | $sqlcpu | | | |")
echo "== limits: forkpool on $n_sqlite record_event, prefetch 0" >&2
: > "$work/fp"
event='{"action":"login","timestamp":"2026-11-22T10:00:00Z","org_id":"o1","user_id":"u1","object_id":"x","object_type":"session"}'
for _ in $(seq 1 "$runs"); do
  rcli flushall >/dev/null
  rm -f "$work"/events.db*
  cfg=$(config 0)
  "$bin" enqueue -c "$cfg" --count "$n_sqlite" record_event "$event" >/dev/null
  line=$(measured fp_burst "$cfg")
  echo "   forkpool record_event: $line" >&2
  echo "$line" >> "$work/fp"
done
fp=$(col "$work/fp" 'v["jobs"] / v["seconds"]' | cut -d' ' -f1)
frac=$(awk -v a="$fp" -v b="${sqlrate%% *}" 'BEGIN {printf "%.0f %%", 100 * a / b}')
row "**forkpool** record_event x$n_sqlite, $children children, prefetch 0: **$frac** of SQLite alone" "$work/fp"

say "## Ceilings"
say ""
say "Machine: $machine. $n_ceiling noop jobs pre-filled for the Redis path, $n_sqlite rows for SQLite; median of $runs runs [min-max]. B = jobs per round trip (children + prefetch); the ceiling always sends full batches, so it is an upper bound for the daemon, whose batches are whatever finished in one loop turn. Client CPU: the ceiling program, or forkpool's supervisor and children together. Redis counts include commands run inside scripts, and forkpool's own housekeeping scripts (delayed mover, drained checks)."
say ""
say "| what | jobs/s | client CPU s per 1,000 | redis-server CPU s per 1,000 | EVALSHA per 1,000 jobs | XREADGROUP per 1,000 jobs |"
say "|---|---|---|---|---|---|"
for r in "${rows[@]}"; do say "$r"; done
say ""

# ---- Latency ----------------------------------------------------------------
probe=$bdir/latency_probe.so
rows=()
for prefetch in 0 "$children"; do
  echo "== limits: latency, $(setting "$prefetch")" >&2
  cfg=$(config "$prefetch" "$probe" "$work/samples.bin")
  # Capacity for this job type with the sender running (latency_lib.sh);
  # a burst of probe jobs, which leaves the sender out, beside it.
  burst_cap=$(latency_capacity "$cfg" "$n_capacity")
  latency_capacity_paced "$(config "$prefetch" "$probe" "$work/paced.bin" trace)" \
    "$work/paced.bin" "$n_capacity" > "$work/pcap"
  cap=$(cat "$work/pcap")
  echo "   capacity: $cap jobs/s with the sender running, $burst_cap in a burst" >&2
  for load in idle 50 90; do
    rate=$idle_rate
    [ "$load" != idle ] && rate=$(awk -v c="$cap" -v p="$load" 'BEGIN {printf "%.0f", p * c / 100}')
    latency_point "$cfg" "$work/samples.bin" "$n_latency" "$rate" > "$work/point"
    line=$(cat "$work/point")
    sent=${line%%;*}
    rep=${line#*; }
    echo "   $load: $line" >&2
    label="idle, $rate jobs/s"
    [ "$load" != idle ] && label="$load % of capacity ($cap jobs/s with the sender running; $burst_cap in a burst): $rate jobs/s"
    rows+=("| $(setting "$prefetch") | $label | $(echo "$sent" | field rate) | $(echo "$rep" | field samples) | $(echo "$rep" | field p50_us) | $(echo "$rep" | field p99_us) | $(echo "$rep" | field max_us) |")
  done
done
say "## Latency"
say ""
say "Time from the producer's XADD to the handler starting (CLOCK_MONOTONIC stamped just before each XADD, read first thing in the handler), $n_latency jobs sent one at a time on a fixed schedule, in µs. Capacity is the rate at which $n_capacity probe jobs start when the same sender sends them as fast as it can, measured just before with the same config: the sender shares the $(nproc) cores with redis-server and the pool, so this is what the setup sustains, lower than a \`run --burst\` of a pre-filled queue (shown beside it), at 90 % of which the queue would only grow. The 50 % row is extra context for the 90 % one."
say ""
say "| setting | load, target rate | achieved rate | samples | p50 µs | p99 µs | max µs |"
say "|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do say "$r"; done
say ""

# ---- Backlog ----------------------------------------------------------------
echo "== limits: backlog of $n_backlog noop jobs" >&2
rcli flushall >/dev/null
cfg=$(config 0)
t0=$EPOCHREALTIME
"$bin" enqueue -c "$cfg" --count "$n_backlog" noop '{}' >/dev/null
enq_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
redis_mb=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' | awk '{printf "%.0f", $1 / 1048576}')
"$bin" run -c "$cfg" --burst 2>"$work/backlog.log" &
fp_pid=$!
status_kb() { # status_kb PID FIELD
  local key value rest
  while read -r key value rest; do
    [ "$key" = "$2:" ] && { echo "$value"; return; }
  done < "/proc/$1/status" 2>/dev/null
  echo 0
}
for _ in $(seq 1 400); do
  grep -q "pool ready" "$work/backlog.log" 2>/dev/null && break
  sleep 0.01
done
# One line a second: seconds since ready, jobs left, VmRSS kB, VmHWM kB.
start=$EPOCHREALTIME
: > "$work/samples.txt"
while kill -0 "$fp_pid" 2>/dev/null; do
  left=$(rcli xlen "$jobs_key")
  rss=$(status_kb "$fp_pid" VmRSS)
  hwm=$(status_kb "$fp_pid" VmHWM)
  [ "$rss" != 0 ] && echo "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}') $left $rss $hwm" >> "$work/samples.txt"
  # Sleep the rest of the second, so sampling cost does not shift the clock.
  sleep "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {d = b - a; printf "%.3f", 1 - (d - int(d))}')"
done
wait "$fp_pid" || true
fp_pid=""
line=$(burst_line "$work/backlog.log")
done_jobs=${line%% *}
busy=${line##* }
if [ "$done_jobs" != "$n_backlog" ]; then
  echo "limits: backlog run did $done_jobs of $n_backlog jobs" >&2
  cat "$work/backlog.log" >&2
  exit 1
fi
# Rows at each 10 % of progress (the first sample at or past it), with the
# rate over the second before that sample.
table=$(awk -v n="$n_backlog" '
  {t[NR] = $1; left[NR] = $2; rss[NR] = $3; hwm[NR] = $4}
  END {
    next_pct = 0
    for (i = 1; i <= NR; i++) {
      pct = 100 * (n - left[i]) / n
      if (pct + 1e-9 < next_pct && i != NR) continue
      rate = i > 1 ? (left[i - 1] - left[i]) / (t[i] - t[i - 1]) : 0
      # Parenthesised: a bare ">" in print arguments is a redirection in awk.
      printf "| %.1f | %.0f %% | %d | %s | %.1f | %.1f |\n", t[i], pct, n - left[i],
             (i > 1 ? sprintf("%.0f", rate) : "-"), rss[i] / 1024, hwm[i] / 1024
      while (next_pct <= pct) next_pct += 10
    }
  }' "$work/samples.txt")
summary=$(awk -v n="$n_backlog" '
  {t[NR] = $1; left[NR] = $2; rss[NR] = $3; hwm[NR] = $4}
  END {
    mid = 1
    for (i = 1; i <= NR; i++) if (left[i] >= n / 2) mid = i
    min = -1; max = 0
    # Full seconds only: the first and last intervals straddle start and end.
    for (i = 3; i < NR; i++) {
      r = (left[i - 1] - left[i]) / (t[i] - t[i - 1])
      if (min < 0 || r < min) min = r
      if (r > max) max = r
    }
    printf "%.1f %.1f %.1f %.1f %s %s", rss[1] / 1024, rss[mid] / 1024, rss[NR] / 1024,
           hwm[NR] / 1024, (min < 0 ? "n/a" : sprintf("%.0f", min)),
           (min < 0 ? "n/a" : sprintf("%.0f", max))
  }' "$work/samples.txt")
read -r rss_start rss_mid rss_end hwm_end rate_min rate_max <<< "$summary"
rate_all=$(awk -v n="$n_backlog" -v b="$busy" 'BEGIN {printf "%.0f", n / b}')
say "## Backlog"
say ""
say "$n_backlog noop jobs queued (enqueue took $enq_s s; Redis used_memory then $redis_mb MB), \`forkpool run --burst\`, $children children, prefetch 0. Supervisor VmRSS at start / middle / end: **$rss_start / $rss_mid / $rss_end MB** (peak $hwm_end MB). Rate: $rate_all jobs/s over the busy $busy s; per-second rate between $rate_min and $rate_max jobs/s (full seconds only)."
say ""
say "| s since ready | progress | jobs done | jobs/s (last second) | supervisor VmRSS MB | VmHWM MB |"
say "|---|---|---|---|---|---|"
say "$table"
say ""

mkdir -p "$(dirname "$out")"
printf '%s\n' "${md[@]}" > "$out"
cat "$out"
echo "limits: written to $out${tsv:+; ceiling runs appended to $tsv}" >&2
