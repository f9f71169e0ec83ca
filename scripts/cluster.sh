#!/usr/bin/env bash
# cluster.sh: a local Redis Cluster on 127.0.0.1 for developing and trying
# forkpool's Cluster support: three masters and one replica each, joined by
# `redis-cli --cluster create`, their data and logs in DIR (default
# /tmp/forkpool-cluster). Point forkpool at it with redis.cluster =
# ["127.0.0.1:7000"] (README, "Where Redis is"); test/support/cluster_set.c
# starts the same for the tests.
#
#   scripts/cluster.sh start [DIR]          start them and wait for cluster_state:ok
#   scripts/cluster.sh status [DIR]         CLUSTER NODES (who serves which slots)
#   scripts/cluster.sh failover PORT [DIR]  CLUSTER FAILOVER on a replica of the master on PORT
#   scripts/cluster.sh stop [DIR]           stop them and remove DIR
#
# Ports: masters 7000-7002, replicas 7003-7005, bus ports 17000-17005
# (override with FP_CLUSTER_BASE=N: N to N+5, buses N+10000...). A node
# silent for 2 s is failing, as in the tests.
set -euo pipefail

cmd=${1:-}
if [ "$cmd" = failover ]; then
  target=${2:?usage: scripts/cluster.sh failover PORT [DIR]}
  dir=${3:-/tmp/forkpool-cluster}
else
  dir=${2:-/tmp/forkpool-cluster}
fi
base=${FP_CLUSTER_BASE:-7000}
ports=("$base" $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)))

wait_for() { # PORT TEXT COMMAND...: until the answer contains TEXT (30 s)
  local port=$1 text=$2
  shift 2
  for _ in $(seq 1 600); do
    redis-cli -p "$port" "$@" 2>/dev/null | grep -q "$text" && return 0
    sleep 0.05
  done
  echo "port $port never answered '$text' to '$*'; see $dir/*.log" >&2
  return 1
}

start() {
  mkdir -p "$dir"
  local addrs=()
  for p in "${ports[@]}"; do
    mkdir -p "$dir/$p"
    redis-server --bind 127.0.0.1 --port "$p" --dir "$dir/$p" --save "" --appendonly no \
      --cluster-enabled yes --cluster-node-timeout 2000 --logfile "$dir/$p.log" \
      --daemonize yes --pidfile "$dir/$p.pid"
    wait_for "$p" PONG ping
    addrs+=("127.0.0.1:$p")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log"
  for p in "${ports[@]}"; do
    wait_for "$p" cluster_state:ok cluster info
  done
  # The replicas attach after the slots are served: wait for all three, so
  # that a failover right after start finds one.
  for _ in $(seq 1 600); do
    [ "$(redis-cli -p "$base" cluster nodes | grep -c ' slave ')" = 3 ] && break
    sleep 0.05
  done
  echo "Started in $dir: masters ${ports[*]:0:3}, replicas ${ports[*]:3:3}."
  echo "Try: redis-cli -c -p $base cluster slots"
}

stop() {
  for f in "$dir"/*.pid; do
    if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  sleep 0.5
  rm -rf "$dir"
}

failover() { # the replica whose ROLE names the master on $target
  for p in "${ports[@]}"; do
    if redis-cli -p "$p" role 2>/dev/null | tr '\n' ' ' | grep -q "^slave 127.0.0.1 $target "; then
      redis-cli -p "$p" cluster failover
      return 0
    fi
  done
  echo "no replica of a master on port $target" >&2
  return 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) redis-cli -p "$base" cluster nodes ;;
  failover) failover ;;
  *) sed -n '2,17p' "$0" >&2; exit 64 ;;
esac
