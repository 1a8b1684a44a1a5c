#!/usr/bin/env python3
"""Regenerates the figures the README shows from the binaries: the epochalypse
example, its timeline picture (docs/epochalypse_timeline.svg) and the zoo
table's detection figures. Run it from the project's root after
building the release preset; a ctest fails whenever the README and the
binaries disagree, so this is how the README is kept true. The zoo table's
detection figures come from bench/zoo_power_baseline.json (bench/zoo_power.py
makes it; a ctest checks the zoo against it)."""

import json
import re
import subprocess
import tempfile
import sys

SIM_DIR = "build/release/simulator"
EPOCHALYPSE = f"{SIM_DIR}/dst_demo_server_simulator_bug_epochalypse"
EXAMPLE_SEED = "13647215125184110592"


def run(command):
    return subprocess.run(command, shell=True, capture_output=True, text=True).stdout


def example_block():
    with tempfile.TemporaryDirectory() as scratch:
        out = run(f"SIMULATOR_SEED={EXAMPLE_SEED} SIMULATOR_RUNS=1 {EPOCHALYPSE} --failures-dir {scratch}/simulator_failures")
        out = out.replace(f"{scratch}/simulator_failures", "simulator_failures").split("\n")
        # The README's picture of the shrunk run, drawn from its timeline.
        trace = f"{scratch}/simulator_failures/dst_demo_failure_{EXAMPLE_SEED}.trace.json"
        subprocess.run(["docs/trace_to_svg.py", trace, "docs/epochalypse_timeline.svg"], check=True)
    keep = [l for l in out if l.startswith(("dst_demo_server_simulator: seed=", "run 1/1", "  knobs:", "  parameters:", "  faults:", "  verdict:"))]
    keep.append("  ...")
    shrinking = False
    for line in out:
        if line.startswith("  shrunk:"):
            shrinking = True
        if shrinking:
            if line.startswith("  minimal plan saved"):
                continue
            if line.startswith("  replay:"):
                break
            keep.append(line)
    return "```\n" + "\n".join(keep) + "\n```\n"


def zoo_figures(figure):
    """A zoo table row's last two cells: the rate with its interval, the seeds to the first failure."""
    low, high = figure["wilson95"]
    rate = 100 * figure["failed"] / figure["runs"]
    first = "never" if figure["failed"] == 0 else f"{figure['runs'] / figure['failed']:.1f}"
    return f"{rate:.1f}% ({100 * low:.1f}-{100 * high:.1f}%) | {first}"


def main():
    readme = open("README.md").read()
    start = readme.index(f"```\ndst_demo_server_simulator: seed={EXAMPLE_SEED}")
    end = readme.index("```\n", start + 4) + 4
    readme = readme[:start] + example_block() + readme[end:]

    baseline = json.load(open("bench/zoo_power_baseline.json"))

    def figure(match):
        bug = match.group(1)
        if bug not in baseline["bugs"]:
            sys.exit(f"update_readme: no baseline for {bug} in bench/zoo_power_baseline.json")
        return match.group(0)[: match.start(2) - match.start(0)] + zoo_figures(baseline["bugs"][bug]) + " |"

    readme = re.sub(r"(?m)^\| `([a-z_]+)` \|.*?\| ([0-9.]+% \([^|]*\) \| [0-9.a-z]+) \|$", figure, readme)
    open("README.md", "w").write(readme)


if __name__ == "__main__":
    main()
