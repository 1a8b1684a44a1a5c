#!/bin/bash
# Submits the sweep's job array, and the merge to run once every shard is done.
#   SEED=42 RUNS=1000000 RECORDS=/shared/dst-demo deploy/slurm/submit.sh
set -euo pipefail
here=$(dirname "$0")
array=$(sbatch --parsable --export=ALL "$here/sweep.sbatch")
sbatch --parsable --export=ALL --dependency="afterok:$array" "$here/merge.sbatch"
