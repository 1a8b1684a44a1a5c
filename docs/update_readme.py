#!/usr/bin/env python3
"""Regenerates the figures the README shows from the binaries: the epochalypse
example, its timeline picture (docs/epochalypse_timeline.svg) and the zoo
table's "runs failing of 100" column. Run it from the project's root after
building the release preset; a ctest fails whenever the README and the
binaries disagree, so this is how the README is kept true."""

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


def main():
    readme = open("README.md").read()
    start = readme.index(f"```\ndst_demo_server_simulator: seed={EXAMPLE_SEED}")
    end = readme.index("```\n", start + 4) + 4
    readme = readme[:start] + example_block() + readme[end:]

    def figure(match):
        bug = match.group(1)
        out = run(f"SIMULATOR_SEED=1 SIMULATOR_RUNS=100 {SIM_DIR}/dst_demo_server_simulator_bug_{bug} --no-shrink")
        failed = re.search(r"summary: 100 runs, \d+ passed, (\d+) failed", out)
        if not failed:
            sys.exit(f"update_readme: no summary from the {bug} variant")
        return match.group(0)[: -len(match.group(2)) - 2] + failed.group(1) + " |"

    readme = re.sub(r"(?m)^\| `([a-z_]+)` \|.*\| (\d+) \|$", figure, readme)
    open("README.md", "w").write(readme)


if __name__ == "__main__":
    main()
