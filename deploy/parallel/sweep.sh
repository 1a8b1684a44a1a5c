#!/usr/bin/env bash
# A sweep split into shards that GNU parallel runs on this machine or on ssh
# hosts, then one merged summary. The shards together run exactly the runs of
# one sweep with the same seed; any run replays alone from its seed.
#
#   deploy/parallel/sweep.sh --seed S --runs R --shards N [--hosts FILE] [--jobs J]
#                            [--simulator PATH] [--out DIR] [-- SIMULATOR ARGS...]
#
#   --hosts FILE   ssh logins, one a line, as GNU parallel's --sshloginfile takes them
#                  (":" is this machine; "8/user@host" runs 8 shards at once there).
#                  Each host needs the simulator at the same path (an identical
#                  install, a shared file system, or the container image).
#   --jobs J       shards at once on each host (default: its cores)
#   --simulator    the simulator binary (default: build/release/simulator/dst_demo_server_simulator)
#   --out DIR      where each shard's records and output land (default: a new directory)
#
# Prints the merged summary; the merged records are DIR/merged.jsonl. Exit
# status: the merge's (0 every run passed, 1 a run failed), or 2 when a shard
# could not run.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
seed="" runs="" shards="" hosts="" jobs="" out=""
simulator="$here/build/release/simulator/dst_demo_server_simulator"
help_text() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
usage() { help_text >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --hosts) hosts=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --simulator) simulator=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --help|-h) help_text; exit 0 ;;
    --) shift; break ;;
    *) echo "sweep.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$seed" ] && [ -n "$runs" ] && [ -n "$shards" ] || { echo "sweep.sh: --seed, --runs and --shards are required" >&2; exit 2; }
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "sweep.sh: --shards '$shards' is not a count above zero" >&2; exit 2; }
command -v parallel >/dev/null || { echo "sweep.sh: GNU parallel is missing (apt-get install parallel)" >&2; exit 2; }
[ -x "$simulator" ] || { echo "sweep.sh: no simulator at '$simulator' (build it, or give --simulator)" >&2; exit 2; }
simulator=$(realpath "$simulator")
[ -n "$out" ] || out=$(mktemp -d)
mkdir -p "$out"

# Each shard runs its runs one at a time (--max-parallel 1): parallel spreads
# the shards over the cores. A shard that found failures exits 1, which is a
# result, not an error; anything else fails the sweep.
shard='s=0; "$0" --seed "$1" --runs "$2" --shard "$3/$4" --max-parallel 1 --quiet --report-json "shard-$3.jsonl" "${@:5}" > "shard-$3.out" 2>&1 || s=$?; [ "$s" -le 1 ]'
options=(--halt never)
failures=(--failures-dir "$out/simulator_failures")
[ -n "$jobs" ] && options+=(--jobs "$jobs")
if [ -n "$hosts" ]; then
  # On ssh hosts: run in a scratch directory there, bring each shard's files back.
  # Shrunk failures' plans stay there; every failure replays from its seed.
  options+=(--sshloginfile "$hosts" --workdir ... --return "shard-{}.jsonl" --return "shard-{}.out" --cleanup)
  failures=()
fi
status=0
(cd "$out" && parallel "${options[@]}" bash -c "'$shard'" "$simulator" "$seed" "$runs" "{}" "$shards" "${failures[@]}" "$@" \
  ::: $(seq 0 $((shards - 1)))) || status=$?
if [ "$status" -ne 0 ]; then
  echo "sweep.sh: $status shard(s) could not run; their output is in $out/shard-*.out" >&2
  exit 2
fi
files=()
for ((i = 0; i < shards; i++)); do files+=("$out/shard-$i.jsonl"); done
exec "$simulator" --merge "${files[@]}" --report-json "$out/merged.jsonl"
