# latency_lib.sh: sourced by bench/limits.sh and bench/steer.sh; the one copy
# of the enqueue-to-start latency measurement (bench/latency_send.c paces the
# producer, the latency_probe plugin stamps the start) and of starting and
# stopping a daemon in the background.
# The caller sets: bin (the forkpool binary), bdir (the build directory with
# latency_send), work (a temp dir), port (its redis-server) and jobs_key; it
# stops a daemon left in $fp_pid on exit.
# shellcheck shell=bash disable=SC2154 # those globals are the caller's
fp_pid=""

# start_daemon CFG [LOG]: a daemon in the background, once its pool is ready.
start_daemon() {
  local log=${2:-$work/daemon.log}
  "$bin" run -c "$1" 2>"$log" &
  fp_pid=$!
  for _ in $(seq 1 200); do
    grep -q "pool ready" "$log" && return 0
    sleep 0.05
  done
  echo "bench: the daemon did not get ready" >&2
  cat "$log" >&2
  return 1
}
stop_daemon() {
  kill -TERM "$fp_pid"
  wait "$fp_pid" || true
  fp_pid=""
}

# wait_samples FILE N [BYTES]: until FILE holds N records of BYTES (8) each,
# or 120 s.
wait_samples() {
  local want=$(($2 * ${3:-8}))
  for _ in $(seq 1 1200); do
    [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "bench: only $(($(stat -c %s "$1" 2>/dev/null || echo 0) / ${3:-8})) of $2 records arrived in $1" >&2
}

# latency_capacity CFG N: jobs/s of a `run --burst` of N probe jobs with CFG,
# whose samples are stamped 0, meaningless: the caller empties the file.
latency_capacity() {
  redis-cli -p "$port" flushall >/dev/null
  "$bin" enqueue -c "$1" --count "$2" latency_probe '{"t":"0"}' >/dev/null
  "$bin" run -c "$1" --burst 2>"$work/capacity.log"
  burst_line "$work/capacity.log" |
    awk '{printf "%.0f\n", $1 / ($2 > 0 ? $2 : 0.001)}'
}

# latency_capacity_paced CFG TRACE N: jobs/s started when latency_send
# outruns the pool (N probe jobs, each its own XADD, as fast as the sender
# can), with CFG's probe writing TRACE: the capacity of this setup with the
# producer sharing the cores, which a burst of a pre-filled queue leaves
# out. A paced rate above it only grows the queue, so the latency points
# take their shares of this one (bench/mixed_report.py --start-rate).
latency_capacity_paced() {
  redis-cli -p "$port" flushall >/dev/null
  rm -f "$2"
  start_daemon "$1"
  "$bdir/latency_send" -p "$port" -k "$jobs_key" -n "$3" -r 100000000 >/dev/null
  wait_samples "$2" "$3" 40
  stop_daemon
  /usr/bin/python3 bench/mixed_report.py "$2" --start-rate |
    sed -n 's/.*start_rate=\([0-9]*\).*/\1/p'
}

# latency_point CFG SAMPLES N RATE: N probe jobs sent at RATE jobs/s to a
# daemon running CFG, whose probe writes to SAMPLES; prints latency_send's
# line and its report's: rate=... sent=... ...; samples=N p50_us=... p99_us=...
# Call it in the script's own shell (output to a file, not in $(...)): the
# daemon's pid is left in fp_pid for the exit trap while it runs.
latency_point() {
  local sent rep
  redis-cli -p "$port" flushall >/dev/null
  rm -f "$2"
  start_daemon "$1"
  sent=$("$bdir/latency_send" -p "$port" -k "$jobs_key" -n "$3" -r "$4")
  wait_samples "$2" "$3"
  stop_daemon
  rep=$("$bdir/latency_send" report "$2")
  echo "$sent; $rep"
}
