#!/usr/bin/env bash
# Our server against redis-server from Debian, on loopback, at the same
# concurrency, in one go: HEALTH vs PING, GET_BALANCE vs GET, and a durable
# CREATE vs SET with appendonly yes and appendfsync always, each at several
# connections x requests in flight per connection (pipelining). Prints each
# ratio (ours / redis; above 1.0 we are faster) and the syncs per create.
#
#   bench/compare_redis.sh [REQUESTS]      (after ./dev test or a release build)
#
# BASELINE_SERVER=path/to/an/older/dst_demo_server adds a column with that
# server's figures, measured in the same run (a before and after).
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}
bin=build/release
for p in redis-server redis-tools; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null; }
done
[ -x "$bin/bench/dst_demo_bench" ] || { cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" >/dev/null; }

work=$(mktemp -d)
baseline=${BASELINE_SERVER:-}
base_pid=
cleanup() { kill "$redis_pid" "$bank_pid" $base_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

redis-server --port 0 --bind 127.0.0.1 --port 6399 --dir "$work" --appendonly yes --appendfsync always \
  --save '' --daemonize no --logfile "$work/redis.log" &
redis_pid=$!
"$bin/server/dst_demo_server" --addr 127.0.0.1 --port 0 --data-dir "$work/bank" --log-level info \
  --max-connections 10000 >"$work/bank.out" 2>"$work/bank.log" &
bank_pid=$!
for _ in $(seq 100); do
  redis-cli -p 6399 ping >/dev/null 2>&1 && grep -q listening "$work/bank.out" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/bank.out")
if [ -n "$baseline" ]; then
  "$baseline" --addr 127.0.0.1 --port 0 --data-dir "$work/base" --log-level info --max-connections 10000 \
    >"$work/base.out" 2>"$work/base.log" &
  base_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/base.out" 2>/dev/null && break; sleep 0.1; done
  base_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/base.out")
fi
redis-cli -p 6399 set balance 0 >/dev/null

# Each prints "requests/s p50_us p99_us".
rps_redis() {  # test, clients, in flight per connection
  redis-benchmark -p 6399 -c "$2" -n "$requests" -t "$1" -P "$3" --csv 2>/dev/null | tail -1 | tr -d '"' |
    awk -F, '{printf "%s %.0f %.0f\n", $2, $5 * 1000, $7 * 1000}'
}
rps_ours() {  # mix, clients, in flight per connection[, port]
  "$bin/bench/dst_demo_bench" "127.0.0.1:${4:-$port}" -c "$2" -P "$3" -n "$requests" --mix "$1" -q |
    sed -n 's/.* s: \([0-9.]*\) exchanges\/s, p50 \([0-9]*\) us, p99 \([0-9]*\) us.*/\1 \2 \3/p'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $requests requests per cell"
echo "(latency: p50/p99 in microseconds, as each client measures it)"
printf '%-34s %14s %10s %13s %10s %13s %7s%s\n' "" "conns x flight" "ours/s" "p50/p99" "redis/s" "p50/p99" ratio \
  "${baseline:+   before/s}"
for cell in 1x1 16x1 64x1 64x4 16x16; do
  clients=${cell%x*}
  flight=${cell#*x}
  for pair in "HEALTH vs PING:health=1:ping" "GET_BALANCE vs GET:balance=1:get" "durable CREATE vs SET (fsync always):create=1:set"; do
    IFS=: read -r label mix test <<<"$pair"
    read -r ours ours_p50 ours_p99 < <(rps_ours "$mix" "$clients" "$flight")
    read -r theirs theirs_p50 theirs_p99 < <(rps_redis "$test" "$clients" "$flight")
    before=
    if [ -n "$baseline" ]; then
      read -r before_rps _ < <(rps_ours "$mix" "$clients" "$flight" "$base_port")
      before=$(printf ' %11.0f' "$before_rps")
    fi
    printf '%-34s %14s %10.0f %13s %10.0f %13s %7.2f%s\n' "$label" "$cell" "$ours" "$ours_p50/$ours_p99" "$theirs" \
      "$theirs_p50/$theirs_p99" "$(echo "$ours / $theirs" | bc -l)" "$before"
  done
done
kill -TERM "$bank_pid"; wait "$bank_pid" 2>/dev/null || true
echo "group commit: $(grep -o '[0-9]* writes in [0-9]* syncs' "$work/bank.log" | tail -1) ($(grep -o '[0-9]* writes in [0-9]* syncs' "$work/bank.log" | awk '{printf "%.2f syncs per create", $4/$1}'))"
