#!/usr/bin/env bash
# The five-minute path (./dev demo): builds the simulator with the epochalypse
# planted, lets a seeded sweep find it, shrinks it to its minimal story, shows
# where the failure became certain, and steps through it in the debugger.
#
# DST_DEMO_SIMULATOR=PATH skips the set-up and the build and uses that binary
# (the test suite runs the demo so). DST_DEMO_WORK=DIR is where it writes
# (default build/demo); nothing is written into the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
work=${DST_DEMO_WORK:-build/demo}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
took() { printf '   (%d s so far)\n' $((SECONDS - start)); }

cat <<'EOF'
Deterministic simulation testing (DST) runs the real server code inside a
simulated world: the network, the clock and the disk are fakes driven by one
seed, faults (crashes, power losses, partitions, disk errors, clock steps) are
injected on purpose, and a model checks every reply. Everything is replayable:
one seed gives the same run, byte for byte, every time. So a bug that shows
once in a thousand runs is not a flake: it has a seed, a minimal story and a
command that replays it.

This demo plants a real bug, the epochalypse: the server keeps `created_at`
in a signed 32-bit integer, which wraps at 2^31 s after 1970, on
2038-01-19T03:14:08Z. Watch the simulator find it without being told.
EOF

simulator=${DST_DEMO_SIMULATOR:-}
if [ -z "$simulator" ]; then
  step "1/5 set-up: the Debian packages the build needs (about 1 min on a fresh machine; nothing if present)"
  ./dev setup
  took
  step "2/5 build: the simulator, with the epochalypse planted (about 2 min on two cores the first time)"
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target dst_demo_server_simulator_bug_epochalypse >/dev/null
  simulator=build/release/simulator/dst_demo_server_simulator_bug_epochalypse
  took
else
  step "1-2/5 set-up and build skipped: using $simulator"
fi
mkdir -p "$work"

step "3/5 a sweep: seeded runs of the whole bank until one fails (a few seconds)"
cat <<'EOF'
Each run draws its knobs from its seed: how many bankers, which faults, and
where the simulated clock starts. Some runs start just before a date that
breaks narrow integers (2038, 2106, 2262). The model knows nothing of the bug;
it only checks that every created_at is a time the host's clock could have read.
EOF
sweep=$("$simulator" --seed 3 --runs 300 --until-failures 1 --max-parallel 1 --failures-dir "$work/failures" || true)
# The failing run's report without its debug log, and the summary's first lines.
printf '%s\n' "$sweep" | awk '/^    \[/ { next } /^  the last [0-9]+ log lines/ { next } /which features fail/ { exit } { print }'
plan=$(printf '%s\n' "$sweep" | sed -n 's/^  minimal plan saved: \(.*\.plan\), its timeline.*/\1/p' | head -1)
if [ -z "$plan" ]; then
  echo "demo: the sweep found no failure to show (this is a bug in the demo)" >&2
  exit 1
fi
took

step "4/5 where it became certain: 16 futures branched from each point of the minimal run (a few seconds)"
cat <<'EOF'
From each moment of the shrunk run, the debugger keeps the past and draws the
rest from new seeds. Before the create goes out most futures pass (they do
something else); once the create leaves after the clock crossed 2^31 s, every
future fails: this is a bug, not bad luck.
EOF
"$simulator" --likelihood "$plan" --branches 16 --chart "$work/likelihood.svg"
took

step "5/5 the debugger on the minimal plan: step to the create, look at the clock, see the reply"
session="run-to until send CREATE
show clock
run-to until recv id=
show ledger"
printf '%s\n' "$session" | "$simulator" --debug --replay "$plan" | grep -v '^      \[event'
took

cat <<EOF

What you saw: the server stored a time past 2^31 s in 32 bits and handed
back a created_at in 1901. No test named 2038; the sweep found it because
its seeds start the clock near such boundaries, the model checks every reply,
and the shrinker cut hundreds of requests and faults down to the one create
that matters. Replay it any time, on any machine, with:

  $simulator --replay $plan

Next: README.md (the two commands, the layout), docs/SIMULATOR.md (flags,
sweeps, campaigns), docs/DEBUGGER.md (time travel), docs/ZOO.md (the other
planted bugs). The demo took $((SECONDS - start)) s.
EOF
