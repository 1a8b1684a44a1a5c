#!/usr/bin/env bash
# Our server against redis-server from Debian, on loopback, at the same
# concurrency, driven by the same client (dst_demo_bench, which speaks Redis's
# protocol with --resp): HEALTH vs PING, GET_BALANCE vs GET, and a durable
# CREATE vs SET with appendonly yes and appendfsync always, each at several
# connections x requests in flight per connection (pipelining). Each cell is
# measured RUNS times, ours and Redis's taking turns; it prints the median
# run's requests/s with its p50/p99 latency, the ratio of the medians (ours /
# redis; above 1.0 we are faster), the ratio of each run, and the syncs per
# create. With --markdown it prints the same as docs/PERFORMANCE.md's table.
#
#   bench/compare_redis.sh [REQUESTS [RUNS]] [--markdown]   (after ./dev test or a release build)
#
# BASELINE_SERVER=path/to/an/older/dst_demo_server adds a column with that
# server's median, measured in the same run (a before and after).
set -euo pipefail
cd "$(dirname "$0")/.."
markdown=
args=()
for arg in "$@"; do
  case "$arg" in
    --markdown) markdown=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compare_redis.sh: unknown option '$arg'; try --help" >&2; exit 2 ;;
    *) args+=("$arg") ;;
  esac
done
requests=${args[0]:-20000}
runs=${args[1]:-3}
for value in "$requests" "$runs"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "compare_redis.sh: '$value' is not a count above zero; try --help" >&2; exit 2; }
done
[ ${#args[@]} -le 2 ] || { echo "compare_redis.sh: too many arguments; try --help" >&2; exit 2; }
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
# A cell with more in flight runs more requests (REQUESTS per 16 in flight, at
# least REQUESTS), so that a fast cell still runs long enough to measure.
measure() {  # mix, clients, in flight per connection, port[, --resp]
  local n=$((requests * $2 * $3 / 16))
  [ "$n" -ge "$requests" ] || n=$requests
  "$bin/bench/dst_demo_bench" "127.0.0.1:$4" ${5:-} -c "$2" -P "$3" -n "$n" --mix "$1" -q |
    sed -n 's/.* s: \([0-9.]*\) exchanges\/s, p50 \([0-9]*\) us, p99 \([0-9]*\) us.*/\1 \2 \3/p'
}
# The median of RUNS lines "requests/s p50 p99", by requests/s.
median() { sort -g | sed -n "$(((runs + 1) / 2))p"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $requests requests per cell (per 16 in flight above 16), median of $runs runs"
echo "(one client for both servers: dst_demo_bench, with --resp for Redis; latency p50/p99 in microseconds)"
if [ -n "$markdown" ]; then
  echo
  echo "| request | conns x in flight | ours/s (p50/p99 us) | redis/s (p50/p99 us) | ratio of medians | ratio of each run |${baseline:+ before/s |}"
  echo "|---|---|---|---|---|---|${baseline:+---|}"
else
  printf '%-22s %6s %9s %12s %9s %12s %6s  %-17s%s\n' "" cell "ours/s" p50/p99 "redis/s" p50/p99 ratio "each run" \
    "${baseline:+ before/s}"
fi
for pair in "HEALTH vs PING:health=1" "GET_BALANCE vs GET:balance=1" "CREATE vs SET (fsync):create=1"; do
  IFS=: read -r label mix <<<"$pair"
  for cell in 1x1 16x1 64x1 64x4 16x16; do
    clients=${cell%x*}
    flight=${cell#*x}
    ours_runs=() theirs_runs=() before_runs=() each=()
    for _ in $(seq "$runs"); do
      ours_runs+=("$(measure "$mix" "$clients" "$flight" "$port")")
      theirs_runs+=("$(measure "$mix" "$clients" "$flight" 6399 --resp)")
      [ -z "$baseline" ] || before_runs+=("$(measure "$mix" "$clients" "$flight" "$base_port")")
      each+=("$(echo "${ours_runs[-1]%% *} / ${theirs_runs[-1]%% *}" | bc -l | xargs printf '%.2f')")
    done
    read -r ours ours_p50 ours_p99 < <(printf '%s\n' "${ours_runs[@]}" | median)
    read -r theirs theirs_p50 theirs_p99 < <(printf '%s\n' "${theirs_runs[@]}" | median)
    before=
    if [ -n "$baseline" ]; then
      read -r before_rps _ < <(printf '%s\n' "${before_runs[@]}" | median)
      before=$(printf '%.0f' "$before_rps")
    fi
    ratio=$(echo "$ours / $theirs" | bc -l | xargs printf '%.2f')
    each_text=$(IFS=/; echo "${each[*]}")
    if [ -n "$markdown" ]; then
      printf '| %s | %s | %.0f (%s/%s) | %.0f (%s/%s) | %sx | %s |%s\n' "$label" "$cell" "$ours" "$ours_p50" "$ours_p99" \
        "$theirs" "$theirs_p50" "$theirs_p99" "$ratio" "$each_text" "${before:+ $before |}"
    else
      printf '%-22s %6s %9.0f %12s %9.0f %12s %6s  %-17s%s\n' "$label" "$cell" "$ours" "$ours_p50/$ours_p99" "$theirs" \
        "$theirs_p50/$theirs_p99" "$ratio" "$each_text" "${before:+ $before}"
    fi
  done
done
kill -TERM "$bank_pid"; wait "$bank_pid" 2>/dev/null || true
echo
echo "group commit: $(grep -o '[0-9]* writes in [0-9]* syncs' "$work/bank.log" | tail -1) ($(grep -o '[0-9]* writes in [0-9]* syncs' "$work/bank.log" | awk '{printf "%.2f syncs per create", $4/$1}'));" \
  "$(grep -o 'disk batches: .*' "$work/bank.log" | tail -1)"
