#!/bin/bash
# Submit a sweep as a Slurm array of N shards and the merge as a job that starts only if every shard succeeded.
#   OUT=results/shards RESULTS=results/phase examples/slurm/submit.sh 4 --experiment feature-2x1 --grid 20 --seeds 10
# Run from the repository root (the jobs run there). WAIT=1 blocks until the merge has finished; LOGS=DIR puts
# the jobs' logs there (default: the current directory).
set -euo pipefail
N=${1:?usage: submit.sh SHARDS [phase-diagram flags...]}
shift
here=$(dirname "$0")
logs=${LOGS:-.}
array=$(sbatch --parsable --array=0-$((N - 1)) --output="$logs/phase_%A_%a.log" "$here/phase-sweep.sbatch" "$@")
echo "shards: job array $array (0-$((N - 1)))"
sbatch ${WAIT:+--wait} --dependency=afterok:"$array" --kill-on-invalid-dep=yes --output="$logs/merge_%j.log" "$here/merge.sbatch"
