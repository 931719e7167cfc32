#!/bin/bash
# One search on a Slurm cluster: 16 array tasks, each one `hyperflow sweep` worker on the
# same config against one shared store, joined into one search (one parent run,
# [search].max_evals trials in total, whatever the number of tasks running).
#
#   export HYPERFLOW_TRACKING_URI=postgresql://user:pass@db.example:5432/hyperflow
#     # or http://hyperflow.example:5000 (a `hyperflow server`; export MLFLOW_TRACKING_TOKEN)
#     # or sqlite:////shared/abs/path/hyperflow.db (only if every task runs on one node)
#   sbatch deploy/slurm/sweep-array.sh /shared/path/sweep.toml
#
# The config must be at the same absolute path on every node (a shared file system):
# workers join the running search of the same store, experiment and config path.
#
# Faults: a task that dies (preempted, node lost, scancel) stops sending heartbeats; after
# [search] stale_after (a duration, default "60s") the others mark its running trials
# FAILED and give their places in the budget back, so the search still ends with
# max_evals finished trials. Make stale_after longer than a node may stall (long GC or
# I/O pauses), shorter than you would wait for a lost trial's place.
#
# Resuming: submit again. While the search is unfinished (some tasks died, or all of
# them, e.g. at the time limit), new tasks join it and run what is left. A task that
# starts after the search finished would start a new search; to be exact, name the
# search: HYPERFLOW_JOIN=PARENT_RUN_ID sbatch ... (its id is printed by every worker and
# by `hyperflow runs list --filter "tags.hyperflow.role = 'search'"`); then tasks that
# find it finished exit at once.
#
#SBATCH --job-name=hyperflow-sweep
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=hyperflow-sweep-%A_%a.out
set -euo pipefail

config=${1:?usage: sbatch sweep-array.sh /shared/abs/path/sweep.toml}
: "${HYPERFLOW_TRACKING_URI:?export the shared store (postgresql://..., http://..., sqlite:////...)}"
args=(sweep "$config" --tracking-uri "$HYPERFLOW_TRACKING_URI" --no-progress)
if [[ -n ${HYPERFLOW_JOIN:-} ]]; then
  args+=(--join "$HYPERFLOW_JOIN")
fi
# (The store URI may hold a password: it is not echoed.)
echo "task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname): sweep $config"
exec hyperflow "${args[@]}"
