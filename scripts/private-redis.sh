# private-redis.sh: sourced by quickstart.sh and bench/*.sh. start_private_redis DIR
# starts a redis-server on a free 127.0.0.1 port with its data in DIR and waits
# until it answers; it sets $port and $redis_pid (the caller stops it).
start_private_redis() {
  local dir=$1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
    --logfile "$dir/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 200); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "redis-server did not answer on port $port; see $dir/redis.log" >&2
  return 1
}
