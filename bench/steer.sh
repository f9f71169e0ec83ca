#!/usr/bin/env bash
# steer.sh: forkpool's defaults next to the hand-tuned setting and the
# Redis-path ceiling, in one run (scripts/bench.sh --steer). "defaults" writes
# no pool.prefetch and no pool.pipeline in the config (whatever the daemon
# then chooses); "hand-tuned" is prefetch = 64, pipeline = 16. Each case runs
# FP_BENCH_RUNS times (3) per setting, the two settings alternating; the
# table shows medians, each case's target on the defaults and whether it is
# met:
#   noop, record_event    `run --burst` on a pre-filled queue, jobs/s
#   Python exec noop      pool.runtime = "exec" with the helper worker
#                         (python -m forkpool.worker, bench/peers/fp_app.py)
#   sleep 50 ms x 400     efficiency = ideal wall (jobs x 50 ms / children) / busy wall
#   mixed                 20 jobs of 1 s among 20,000 of 1 ms at random places
#                         (bench/mixed_send.py, fixed seed) into a running
#                         daemon; the latency_probe plugin sleeps them and
#                         traces each job (bench/mixed_report.py: span vs ideal,
#                         the 1 ms jobs' enqueue-to-start wait, the 1 ms jobs
#                         blocked behind a 1 s job while another child was free);
#                         the last run's timeline is a TSV and a PNG per setting
#   latency               enqueue to start at 1,000 jobs/s and at 50 % and 90 %
#                         of each setting's capacity measured in the same run
#                         with the sender running (a sender that outruns the
#                         pool; a burst's figure is shown beside it)
#                         (bench/latency_lib.sh, shared with bench/limits.sh)
#   ceilings              bench/ceiling_redis at B = 4 + 64: forkpool's
#                         outcome script with the pull behind it and the plain XACK + XDEL +
#                         XREADGROUP yardstick, with redis-server's CPU per job
# Writes Markdown ($FP_STEER_OUT, build-bench/steer.md) and the same rows as
# a TSV ($FP_STEER_TSV, build-bench/steer.tsv), and the mixed timelines
# (build-bench/steer-mixed-SETTING.tsv and .png, bench/timeline_plot.py).
# FP_STEER_SCALE (e.g. 0.02) shrinks every count, for development.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FP_BENCH_BUILD_DIR:-build-bench}
runs=${FP_BENCH_RUNS:-3}
children=${FP_BENCH_CHILDREN:-4}
scale=${FP_STEER_SCALE:-1}
out=${FP_STEER_OUT:-$build_dir/steer.md}
tsv=${FP_STEER_TSV:-$build_dir/steer.tsv}
settings=(defaults tuned)
tuned_prefetch=64
tuned_pipeline=16

# A count shrunk by FP_STEER_SCALE, never below a floor that still measures.
scaled() {
  awk -v n="$1" -v s="$scale" -v min="${2:-100}" \
    'BEGIN {v = int(n * s); if (v < min) v = min; if (v > n) v = n; print v}'
}
n_noop=$(scaled 200000 1000)
n_event_big=$(scaled 10000 200)
n_event_small=$(scaled 1000 100)
n_python=$(scaled 100000 1000)
n_sleep=$(scaled 400 8)
n_short=$(scaled 20000 200)
n_long=$(scaled 20 1)
n_capacity=$(scaled 100000 1000)
n_latency=$(scaled 10000 200)
n_ceiling=$(scaled 200000 1000)
sleep_ms=50
idle_rate=1000
event='{"action":"login","timestamp":"2026-11-22T10:00:00Z","org_id":"o1","user_id":"u1","object_id":"x","object_type":"session"}'
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== steer: load average at start: $load" >&2
scripts/bootstrap.sh >/dev/null
echo "== steer: building $build_dir (release)" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFP_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target forkpool fp_bench_ceiling_redis \
  fp_bench_latency_send fp_bench_latency_probe >/dev/null
bdir=$(cd "$build_dir" && pwd)
bin=$bdir/forkpool
probe=$bdir/latency_probe.so

# shellcheck source=bench/bench_env.sh
. bench/bench_env.sh
bench_env steer
jobs_key='fp:{default}:jobs'
# shellcheck source=bench/latency_lib.sh
. bench/latency_lib.sh
# The Python worker and its app: the checkout's package, bench/peers/fp_app.py.
PYTHONPATH="$(pwd)/python:$(pwd)/bench/peers${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH

# config SETTING NAME [POOL_LINES] [SECTIONS]: a config file for one kind of
# run; the defaults write no prefetch and no pipeline key.
config() {
  local f="$work/$2-$1.toml"
  {
    printf '[daemon]\nname = "steer"\n[redis]\nurl = "redis://127.0.0.1:%s/0"\n' "$port"
    printf '[pool]\nchildren = %s\n' "$children"
    [ "$1" = tuned ] && printf 'prefetch = %s\npipeline = %s\n' "$tuned_prefetch" "$tuned_pipeline"
    [ -n "${3:-}" ] && printf '%s\n' "$3"
    printf '[health]\nlisten = ""\n[handlers.record_event]\ndatabase = "%s"\n' "$work/events.db"
    [ -n "${4:-}" ] && printf '%s\n' "$4"
    true
  } > "$f"
  echo "$f"
}
probe_config() { # probe_config SETTING NAME KEY PATH: the latency_probe plugin writing KEY = PATH
  config "$1" "$2" "plugins = [\"$probe\"]" "[handlers.latency_probe]
$3 = \"$4\""
}

# key=value from a tool's one-line output.
field() { sed -n "s/.*\\b$1=\\([^ ;]*\\).*/\\1/p"; }

# burst CFG COUNT TYPE ARGS: a pre-filled queue through `run --burst`; prints
# the busy seconds, after checking every job was done.
burst() {
  redis-cli -p "$port" flushall >/dev/null
  rm -f "$work"/events.db*
  "$bin" enqueue -c "$1" --count "$2" "$3" "$4" >/dev/null
  "$bin" run -c "$1" --burst 2>"$work/run.log"
  local line
  line=$(burst_line "$work/run.log")
  if [ "${line% *}" != "$2" ]; then
    echo "steer: expected $2 jobs done, got '${line% *}'" >&2
    cat "$work/run.log" >&2
    exit 1
  fi
  echo "${line#* }"
}

# ---- rows -------------------------------------------------------------------
md_rows=()
: > "$work/rows.tsv"
# row CASE DEFAULTS TUNED RATIO TARGET MET: one line of the table and of the
# TSV (values as given: the caller formats them; a note in brackets after a
# value is left out of the TSV). MET is yes, no, or - for a figure reported
# without a target.
row() {
  local met=$6
  [ "$met" = no ] && met="**no**"
  [ "$met" = - ] && met="—"
  md_rows+=("| $1 | $2 | $3 | $4 | $5 | $met |")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "${2%% (*}" "${3%% (*}" "$4" "$5" "$6" >> "$work/rows.tsv"
}
# ratio A B [DECIMALS]; holds EXPR: is the awk expression true (a, b set)?
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {printf "%." d "f", (b > 0 ? a / b : 0)}'; }
holds() { awk -v a="$2" -v b="${3:-0}" "BEGIN {exit !($1)}" && echo yes || echo no; }
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN {printf "%." d "f", v}'; }

# ---- burst cases ------------------------------------------------------------
# rate_case LABEL COUNT TYPE ARGS [POOL_LINES]: jobs/s per setting, medians
# left in rate_defaults and rate_tuned, and of the busy seconds in
# busy_defaults and busy_tuned.
rate_case() {
  local s busy
  echo "== steer: $1 ($runs runs per setting)" >&2
  for s in "${settings[@]}"; do : > "$work/busy-$s"; done
  for _ in $(seq 1 "$runs"); do
    for s in "${settings[@]}"; do
      busy=$(burst "$(config "$s" burst "${5:-}")" "$2" "$3" "$4")
      echo "   $s: $2 jobs in $busy s" >&2
      echo "$busy" >> "$work/busy-$s"
    done
  done
  busy_defaults=$(median < "$work/busy-defaults")
  busy_tuned=$(median < "$work/busy-tuned")
  # The median rate is the count over the median busy time.
  rate_defaults=$(awk -v n="$2" -v b="$busy_defaults" 'BEGIN {printf "%.0f", n / (b > 0 ? b : 0.001)}')
  rate_tuned=$(awk -v n="$2" -v b="$busy_tuned" 'BEGIN {printf "%.0f", n / (b > 0 ? b : 0.001)}')
}
# within_case LABEL COUNT TYPE ARGS: defaults at least 90 % of hand-tuned.
within_case() {
  rate_case "$@"
  local r
  r=$(ratio "$rate_defaults" "$rate_tuned")
  row "$1" "$rate_defaults" "$rate_tuned" "$r" "defaults ≥ 0.90 × hand-tuned" "$(holds 'a >= 0.90' "$r")"
}

within_case "noop × $n_noop, jobs/s" "$n_noop" noop '{}'
noop_tuned=$rate_tuned
noop_defaults=$rate_defaults
within_case "record_event × $n_event_big, jobs/s" "$n_event_big" record_event "$event"
within_case "record_event × $n_event_small, jobs/s" "$n_event_small" record_event "$event"

rate_case "Python exec noop × $n_python, jobs/s" "$n_python" noop '{}' \
  "runtime = \"exec\"
command = [\"$python\", \"-m\", \"forkpool.worker\", \"fp_app\"]"
row "Python exec noop × $n_python (helper worker), jobs/s" "$rate_defaults" "$rate_tuned" \
  "$(ratio "$rate_defaults" "$rate_tuned")" "defaults ≥ 50,000" "$(holds 'a >= 50000' "$rate_defaults")"

# Efficiency: ideal wall (every child always sleeping) over the busy wall.
rate_case "sleep $sleep_ms ms × $n_sleep" "$n_sleep" sleep "{\"ms\":$sleep_ms}"
ideal=$(awk -v n="$n_sleep" -v ms="$sleep_ms" -v c="$children" 'BEGIN {print n * ms / 1000 / c}')
eff_d=$(ratio "$ideal" "$busy_defaults" 4)
eff_t=$(ratio "$ideal" "$busy_tuned" 4)
row "sleep $sleep_ms ms × $n_sleep, efficiency (ideal $ideal s / busy wall)" "$eff_d ($busy_defaults s)" "$eff_t ($busy_tuned s)" \
  "$(ratio "$eff_d" "$eff_t" 3)" "defaults ≥ 0.99" "$(holds 'a >= 0.99' "$eff_d")"

# ---- mixed ------------------------------------------------------------------
echo "== steer: mixed, $n_long × 1 s among $n_short × 1 ms ($runs runs per setting)" >&2
n_mixed=$((n_short + n_long))
for s in "${settings[@]}"; do : > "$work/mixed-$s"; done
mkdir -p "$build_dir"
for _ in $(seq 1 "$runs"); do
  for s in "${settings[@]}"; do
    trace=$work/trace-$s.bin
    redis-cli -p "$port" flushall >/dev/null
    rm -f "$trace"
    start_daemon "$(probe_config "$s" mixed trace "$trace")"
    "$python" bench/mixed_send.py --port "$port" --short "$n_short" --long "$n_long" >/dev/null
    wait_samples "$trace" "$n_mixed" 40
    stop_daemon
    line=$("$python" bench/mixed_report.py "$trace" --children "$children" \
      --tsv "$build_dir/steer-mixed-$s.tsv")
    echo "   $s: $line" >&2
    echo "$line" >> "$work/mixed-$s"
  done
done
mixed() { field "$2" < "$work/mixed-$1" | median; } # mixed SETTING KEY: the median
span_d=$(mixed defaults span_s); span_t=$(mixed tuned span_s)
ideal=$(mixed defaults ideal_s)
ov_d=$(ratio "$span_d" "$ideal" 3); ov_t=$(ratio "$span_t" "$ideal" 3)
row "mixed: span / ideal ($ideal s)" "$ov_d ($(fmt "$span_d" 2) s)" "$ov_t ($(fmt "$span_t" 2) s)" \
  "$(ratio "$span_d" "$span_t")" "defaults ≤ 1.10" "$(holds 'a <= 1.10' "$ov_d")"
# The ideal above takes each 1 ms job as 1 ms, but the handler's sleep runs
# longer (run_over), and FIFO order leaves a child alone on a late 1 s job:
# beside it, the span of a pool with no overhead at all for the same jobs,
# order and measured run times (mixed_report.py, fifo_s).
fifo_d=$(mixed defaults fifo_s); fifo_t=$(mixed tuned fifo_s)
row "mixed: span / span with zero pool overhead (FIFO, measured run times; 1 ms runs $(fmt "$(mixed defaults run_over)" 2) ms)" \
  "$(ratio "$span_d" "$fifo_d" 3) ($(fmt "$fifo_d" 2) s)" "$(ratio "$span_t" "$fifo_t" 3) ($(fmt "$fifo_t" 2) s)" "" "" -
for k in p99 max; do
  d=$(mixed defaults "short_wait_${k}_ms"); t=$(mixed tuned "short_wait_${k}_ms")
  row "mixed: 1 ms jobs' wait, enqueue to start, $k, ms (in a backlog)" "$(fmt "$d" 1)" "$(fmt "$t" 1)" \
    "$(ratio "$d" "$t")" "" -
done
b_d=$(mixed defaults blocked); b_t=$(mixed tuned blocked)
x_d=$(mixed defaults blocked_extra_max_ms); x_t=$(mixed tuned blocked_extra_max_ms)
row "mixed: 1 ms jobs blocked behind a 1 s job while a child was free (longest extra wait)" \
  "$b_d ($(fmt "$x_d" 1) ms)" "$b_t ($(fmt "$x_t" 1) ms)" "" "defaults 0" "$(holds 'a == 0' "$b_d")"
for s in "${settings[@]}"; do
  /usr/bin/python3 bench/timeline_plot.py "$build_dir/steer-mixed-$s.tsv" "$build_dir/steer-mixed-$s.png" \
    --title "forkpool mixed run, $s: $n_long × 1 s among $n_short × 1 ms, $children children"
done

# ---- latency ----------------------------------------------------------------
echo "== steer: latency ($runs runs per setting)" >&2
for s in "${settings[@]}"; do : > "$work/cap-$s"; : > "$work/pcap-$s"; rm -f "$work/lat-$s"-*; done
for _ in $(seq 1 "$runs"); do
  for s in "${settings[@]}"; do
    cfg=$(probe_config "$s" latency file "$work/samples.bin")
    burst_cap=$(latency_capacity "$cfg" "$n_capacity")
    echo "$burst_cap" >> "$work/cap-$s"
    # The shares are of what the setup sustains with the sender running
    # (latency_lib.sh): a burst's figure is higher, and 90 % of it is more
    # than the pool can start while the sender takes its CPU.
    latency_capacity_paced "$(probe_config "$s" paced trace "$work/paced.bin")" \
      "$work/paced.bin" "$n_capacity" > "$work/pcap"
    cap=$(cat "$work/pcap")
    echo "   $s: capacity $cap jobs/s with the sender running, $burst_cap in a burst" >&2
    echo "$cap" >> "$work/pcap-$s"
    for l in idle 50 90; do
      rate=$idle_rate
      [ "$l" != idle ] && rate=$(awk -v c="$cap" -v p="$l" 'BEGIN {printf "%.0f", p * c / 100}')
      latency_point "$cfg" "$work/samples.bin" "$n_latency" "$rate" > "$work/point"
      line=$(cat "$work/point")
      echo "   $s, $l (capacity $cap jobs/s): $line" >&2
      echo "$line" >> "$work/lat-$s-$l"
    done
  done
done
lat() { field "$3" < "$work/lat-$1-$2" | median; } # lat SETTING LOAD KEY: the median
for l in idle 50 90; do
  limit=1000
  [ "$l" = 90 ] && limit=5000
  label="latency at $idle_rate jobs/s, p50 / p99 µs"
  [ "$l" != idle ] && label="latency at $l % of capacity with the sender running (defaults $(median < "$work/pcap-defaults"), hand-tuned $(median < "$work/pcap-tuned") jobs/s; a burst: $(median < "$work/cap-defaults") and $(median < "$work/cap-tuned")), p50 / p99 µs"
  p99_d=$(lat defaults "$l" p99_us); p99_t=$(lat tuned "$l" p99_us)
  row "$label" "$(lat defaults "$l" p50_us) / $p99_d" "$(lat tuned "$l" p50_us) / $p99_t" \
    "$(ratio "$p99_d" "$p99_t")" "defaults p99 ≤ $limit" "$(holds "a <= $limit" "$p99_d")"
done

# ---- ceilings ---------------------------------------------------------------
b=$((children + tuned_prefetch))
# More pairs than the other cases' runs: each is short, and this host's
# Redis CPU per job moves between two levels (about 4 and 6-7 µs here) from
# one minute to the next, so the ratio is taken within each back-to-back
# pair, where both runs see the same level, and the median of those is the
# row's ratio.
ceil_runs=${FP_STEER_CEIL_RUNS:-7}
echo "== steer: Redis-path ceiling and yardstick, B = $b, $n_ceiling noop ($ceil_runs pairs)" >&2
: > "$work/ceil-pairs"
for _ in $(seq 1 "$ceil_runs"); do
  for m in script plain; do
    redis-cli -p "$port" flushall >/dev/null
    "$bin" enqueue -c "$(config defaults ceiling)" --count "$n_ceiling" noop '{}' >/dev/null
    # Two script calls in flight, as the daemon overlaps an outcome-only
    # call with its pull (bench/limits.sh does the same).
    depth=2
    [ "$m" = plain ] && depth=1
    line=$("$bdir/ceiling_redis" -p "$port" -k "$jobs_key" -g forkpool -c steer -b "$b" -m "$m" -d "$depth")
    echo "   $m: $line" >&2
    echo "$line" >> "$work/ceil-$m"
  done
  paste -d' ' <(tail -1 "$work/ceil-script") <(tail -1 "$work/ceil-plain") >> "$work/ceil-pairs"
done
ceil() { # ceil MODE jobs_per_s|cpu_us: the median over the runs
  awk -v k="$2" '{delete v; for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
    print (k == "cpu_us" ? v["redis_cpu_s"] * 1e6 / v["jobs"] : v["jobs"] / v["seconds"])}' \
    "$work/ceil-$1" | median
}
js=$(fmt "$(ceil script jobs_per_s)"); jp=$(fmt "$(ceil plain jobs_per_s)")
cs=$(fmt "$(ceil script cpu_us)" 2); cp=$(fmt "$(ceil plain cpu_us)" 2)
row "ceiling, B = $b: jobs/s, outcome script + pull / plain yardstick" "$js (script)" "$jp (plain)" \
  "$(ratio "$js" "$jp")" "" -
# Each pair's line is the script run's fields, then the plain run's: the
# second redis_cpu_s and jobs are the plain run's.
r=$(awk '{n = 0; for (i = 1; i <= NF; i++) {split($i, kv, "=")
            if (kv[1] == "redis_cpu_s") c[++n] = kv[2]; if (kv[1] == "jobs") j[n + 1] = kv[2]}
          printf "%.4f\n", (c[1] / j[1]) / (c[2] / j[2])}' "$work/ceil-pairs" | median)
r=$(fmt "$r" 2)
row "ceiling: redis-server CPU µs per job, script / plain yardstick (ratio: median over $ceil_runs back-to-back pairs)" \
  "$cs (script)" "$cp (plain)" "$r" "script / plain ≤ 1.30" "$(holds 'a <= 1.30' "$r")"
r=$(ratio "$noop_tuned" "$jp")
row "noop jobs/s over the plain yardstick's ($jp)" "$(ratio "$noop_defaults" "$jp")" "$r" "" \
  "hand-tuned ≥ 0.70" "$(holds 'a >= 0.70' "$r")"

# ---- report -----------------------------------------------------------------
mkdir -p "$(dirname "$out")" "$(dirname "$tsv")"
{
  printf 'case\tdefaults\thand_tuned\tratio\ttarget\tmet\n'
  cat "$work/rows.tsv"
} > "$tsv"
{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), loopback; load average at start $load; $children children; defaults = no \`pool.prefetch\` / \`pool.pipeline\` keys, hand-tuned = prefetch $tuned_prefetch, pipeline $tuned_pipeline; median of $runs runs per setting; ratio = defaults / hand-tuned unless the row says otherwise."
  echo
  echo "| case | defaults | hand-tuned | ratio | target | met? |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${md_rows[@]}"
  echo
  echo "Mixed run over time (last run of each setting): ![defaults](steer-mixed-defaults.png) ![hand-tuned](steer-mixed-tuned.png); the autoscale run's plot is \`scripts/bench.sh --autoscale\`'s."
} > "$out"
echo
cat "$out"
echo
echo "steer: table in $out, rows in $tsv, mixed timelines in $build_dir/steer-mixed-*.{tsv,png}"
