#!/bin/sh
# Replays one regression plan with one simulator build and checks its verdict.
#   check.sh SIMULATOR PLAN pass
#   check.sh SIMULATOR PLAN fail INVARIANT
simulator=$1 plan=$2 verdict=$3
shift 3
invariant="$*"
out=$("$simulator" --replay "$plan" --no-shrink 2>&1)
status=$?
if [ "$verdict" = pass ]; then
  if [ $status -ne 0 ]; then
    printf 'expected %s to pass %s, it exited with %s:\n%s\n' "$simulator" "$plan" "$status" "$out"
    exit 1
  fi
  exit 0
fi
if [ $status -ne 1 ] || ! printf '%s' "$out" | grep -qF "verdict: FAIL: invariant '$invariant' broken"; then
  printf "expected %s to fail %s with invariant '%s'; it exited with %s:\n%s\n" "$simulator" "$plan" "$invariant" "$status" "$out"
  exit 1
fi
