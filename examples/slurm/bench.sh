#!/bin/bash
# Queues the bench array, then the merge to run once every array task has succeeded.
#   OUT=/shared/nino/bench examples/slurm/bench.sh
set -euo pipefail
here=$(dirname "$0")
jid=$(sbatch --parsable --export=ALL "$here/bench.sbatch")
sbatch --dependency="afterok:${jid%%;*}" --export=ALL "$here/bench-merge.sbatch"
