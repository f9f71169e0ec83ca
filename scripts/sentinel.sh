#!/usr/bin/env bash
# sentinel.sh: a local Redis Sentinel deployment for trying forkpool's
# Sentinel form: one master, one replica and three sentinels on 127.0.0.1,
# their data and logs in DIR (default /tmp/forkpool-sentinel).
#
#   scripts/sentinel.sh start [DIR]     start them; prints the [redis] lines to use
#   scripts/sentinel.sh failover [DIR]  SENTINEL FAILOVER (the replica becomes master)
#   scripts/sentinel.sh status [DIR]    which server the sentinels name as master
#   scripts/sentinel.sh stop [DIR]      stop them and remove DIR
#
# Ports: master 6380, replica 6381, sentinels 26380-26382 (override with
# FP_SENTINEL_BASE=N: master N, replica N+1, sentinels 20000+N...). The master
# is named "mymaster"; a master silent for 1 s is down, as in the tests.
set -euo pipefail

cmd=${1:-}
dir=${2:-/tmp/forkpool-sentinel}
base=${FP_SENTINEL_BASE:-6380}
master=$base
replica=$((base + 1))
sentinels=($((base + 20000)) $((base + 20001)) $((base + 20002)))
name=mymaster

wait_ping() {
  for _ in $(seq 1 200); do
    redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "nothing answers on port $1; see $dir/*.log" >&2
  return 1
}

start() {
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$master" --dir "$dir" --dbfilename m.rdb --save "" \
    --logfile "$dir/master.log" --daemonize yes --pidfile "$dir/master.pid"
  wait_ping "$master"
  redis-server --bind 127.0.0.1 --port "$replica" --dir "$dir" --dbfilename r.rdb --save "" \
    --logfile "$dir/replica.log" --daemonize yes --pidfile "$dir/replica.pid" \
    --replicaof 127.0.0.1 "$master"
  wait_ping "$replica"
  for i in 0 1 2; do
    local conf="$dir/sentinel-$i.conf"
    cat >"$conf" <<CONF
sentinel monitor $name 127.0.0.1 $master 2
sentinel down-after-milliseconds $name 1000
sentinel failover-timeout $name 4000
CONF
    redis-server "$conf" --sentinel --bind 127.0.0.1 --port "${sentinels[$i]}" --dir "$dir" \
      --logfile "$dir/sentinel-$i.log" --daemonize yes --pidfile "$dir/sentinel-$i.pid"
    wait_ping "${sentinels[$i]}"
  done
  cat <<TOML
Started in $dir. Put this in forkpool.toml:

[redis]
url = "redis://127.0.0.1/0"      # only the database (and a password) are used
sentinels = ["127.0.0.1:${sentinels[0]}", "127.0.0.1:${sentinels[1]}", "127.0.0.1:${sentinels[2]}"]
master_name = "$name"
TOML
}

stop() {
  for f in "$dir"/sentinel-*.pid "$dir"/replica.pid "$dir"/master.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  failover) redis-cli -p "${sentinels[0]}" sentinel failover "$name" ;;
  status) redis-cli -p "${sentinels[0]}" sentinel get-master-addr-by-name "$name" ;;
  *) sed -n '2,15p' "$0" >&2; exit 64 ;;
esac
