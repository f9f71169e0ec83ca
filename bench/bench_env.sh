# bench_env.sh: sourced by the bench scripts (limits, steer, scale, tls, embedded).
# bench_env NAME makes a temp dir ($work) and starts a private redis-server
# in it ($port, $redis_pid; scripts/private-redis.sh), and arranges that on
# exit the daemons the caller left running ($fp_pid, or several in the array
# bench_pids), then the redis-server, are stopped and the dir removed.
# shellcheck shell=bash
bench_env() {
  work=$(mktemp -d "/tmp/forkpool-$1.XXXXXX")
  redis_pid=""
  fp_pid=""
  bench_pids=()
  trap bench_env_cleanup EXIT
  # shellcheck source=scripts/private-redis.sh
  . scripts/private-redis.sh
  start_private_redis "$work" >/dev/null
}

bench_env_cleanup() {
  local p
  for p in "$fp_pid" "${bench_pids[@]}" "$redis_pid"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  rm -rf "$work"
}

# burst_line LOG...: "JOBS BUSY_S" from each daemon's last line ("stopped: N
# jobs done ... busy S s"), one line per log; the one place that line is read.
burst_line() {
  sed -n 's/.*stopped: \([0-9]*\) jobs done.* busy \([0-9.]*\) s.*/\1 \2/p' "$@"
}

# median: the middle of the numbers on stdin, one per line (0 for none).
median() { sort -g | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : 0)}'; }
