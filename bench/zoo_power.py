#!/usr/bin/env python3
"""The zoo's detection power: for each planted bug, the chance that one seed
catches it (with a 95% Wilson interval, from the simulator's own --report-json
summary) and the seeds a sweep expects to spend before its first failure.

  bench/zoo_power.py run [--runs N] [--seed S] [--write-baseline FILE] [-- SIMULATOR ARGS...]
      sweeps N seeds of every zoo build and prints the table; with
      --write-baseline, keeps the figures (bench/zoo_power_baseline.json is the
      checked-in one, made with --runs 1000 --seed 1).

  bench/zoo_power.py check [--runs N] [--baseline FILE] [-- SIMULATOR ARGS...]
      sweeps N seeds (default 250, from the baseline's seed) of every zoo build
      and fails (exit 1) when a bug is caught less often than its baseline
      allows: when the whole 95% interval of this sweep lies below the
      baseline's. A change that blunts the simulator fails like a change that
      breaks the server. Exit 2: a zoo build or a baseline entry is missing.

Run from the project's root after building the release preset
(--simulator-dir DIR for another build)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

DEFAULT_BASELINE = "bench/zoo_power_baseline.json"
PREFIX = "dst_demo_server_simulator_bug_"


def zoo_builds(directory):
    names = sorted(f[len(PREFIX):] for f in os.listdir(directory) if f.startswith(PREFIX))
    if not names:
        sys.exit(f"zoo_power: no zoo builds ({PREFIX}*) in {directory}; build the release preset first")
    return names


def sweep(directory, bug, seed, runs, extra):
    """Runs `runs` seeds of one zoo build; returns its summary record."""
    with tempfile.TemporaryDirectory() as scratch:
        records = os.path.join(scratch, "records.jsonl")
        command = [os.path.join(directory, PREFIX + bug), "--seed", str(seed), "--runs", str(runs),
                   "--no-shrink", "--quiet", "--report-json", records, *extra]
        done = subprocess.run(command, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode not in (0, 1):
            sys.exit(f"zoo_power: {' '.join(command)} exited with {done.returncode}:\n{done.stderr}")
        with open(records) as lines:
            summary = [json.loads(line) for line in lines if '"type":"summary"' in line]
    if len(summary) != 1 or summary[0]["runs"] != runs:
        sys.exit(f"zoo_power: the {bug} build wrote no summary of {runs} runs")
    invariants = {}
    for failure in summary[0]["failures"]:
        invariants[failure["invariant"]] = invariants.get(failure["invariant"], 0) + failure["runs"]
    low, high = summary[0]["failure_rate_wilson95"]
    return {"failed": summary[0]["failed"], "runs": runs, "wilson95": [round(low, 4), round(high, 4)],
            "invariants": dict(sorted(invariants.items()))}


def seeds_to_first(figure):
    return "never" if figure["failed"] == 0 else f"{figure['runs'] / figure['failed']:.1f}"


def row(bug, figure):
    low, high = figure["wilson95"]
    return (f"{bug:34} {figure['failed']:5}/{figure['runs']:<5} {100 * figure['failed'] / figure['runs']:6.1f}%"
            f"  {100 * low:5.1f}%-{100 * high:5.1f}%  {seeds_to_first(figure):>6}")


def header():
    return f"{'bug':34} {'caught':>11} {'rate':>7}  {'95% interval':>13}  {'seeds to first':>6}"


def run(args, extra):
    figures = {}
    print(header())
    for bug in zoo_builds(args.simulator_dir):
        figures[bug] = sweep(args.simulator_dir, bug, args.seed, args.runs, extra)
        print(row(bug, figures[bug]), flush=True)
    if args.write_baseline:
        baseline = {"seed": args.seed, "runs": args.runs,
                    "made_by": f"bench/zoo_power.py run --runs {args.runs} --seed {args.seed}"
                               f"{' -- ' + ' '.join(extra) if extra else ''}",
                    "bugs": figures}
        with open(args.write_baseline, "w") as out:
            json.dump(baseline, out, indent=2)
            out.write("\n")
        print(f"zoo_power: baseline written to {args.write_baseline}")
    return 0


def check(args, extra):
    with open(args.baseline) as f:
        baseline = json.load(f)
    builds = zoo_builds(args.simulator_dir)
    missing = [bug for bug in builds if bug not in baseline["bugs"]]
    gone = [bug for bug in baseline["bugs"] if bug not in builds]
    if missing or gone:
        for bug in missing:
            print(f"zoo_power: no baseline for {bug}: run bench/zoo_power.py run --write-baseline {args.baseline}")
        for bug in gone:
            print(f"zoo_power: the baseline names {bug}, which no zoo build plants")
        return 2
    weakened = []
    print(f"{header()}  baseline interval ({baseline['runs']} runs)")
    for bug in builds:
        figure = sweep(args.simulator_dir, bug, baseline["seed"], args.runs, extra)
        base_low, base_high = baseline["bugs"][bug]["wilson95"]
        verdict = f"  {100 * base_low:5.1f}%-{100 * base_high:5.1f}%"
        if figure["wilson95"][1] < base_low:
            weakened.append(bug)
            verdict += "  WEAKER: caught less often than the baseline allows"
        print(row(bug, figure) + verdict, flush=True)
    if weakened:
        print(f"zoo_power: detection fell for {', '.join(weakened)}: this sweep's whole 95% interval lies below "
              f"the baseline's (expected at least {', '.join(str(baseline['bugs'][b]['wilson95'][0]) for b in weakened)})")
        return 1
    print(f"zoo_power: every zoo bug is caught as often as its baseline allows ({len(builds)} bugs, "
          f"{args.runs} seeds each)")
    return 0


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simulator-dir", default="build/release/simulator")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="sweep every zoo build and print the table")
    run_parser.add_argument("--runs", type=int, default=1000)
    run_parser.add_argument("--seed", type=int, default=1)
    run_parser.add_argument("--write-baseline", metavar="FILE")
    check_parser = commands.add_parser("check", help="fail when a bug is caught less often than its baseline")
    check_parser.add_argument("--runs", type=int, default=250)
    check_parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    args = parser.parse_args(argv)
    args.simulator_dir = os.path.abspath(args.simulator_dir)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return run(args, extra) if args.command == "run" else check(args, extra)


if __name__ == "__main__":
    sys.exit(main())
