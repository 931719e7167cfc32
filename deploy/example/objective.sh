#!/bin/sh
# A stand-in for a training program: takes two hyperparameters, reports a loss.
#
#   objective.sh X Y
#
# prints a few `hyperflow: metric=loss value=... step=...` lines, as a training loop
# reporting each epoch would, ending with the loss of (X, Y) on a shifted bowl
# (smallest, 0, at X=0.3, Y=-1.2). Needs only sh and awk, which every image with
# a shell has (the runtime image of the Dockerfile included).
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: objective.sh X Y" >&2
  exit 2
fi
awk -v x="$1" -v y="$2" 'BEGIN {
  loss = (x - 0.3) ^ 2 + (y + 1.2) ^ 2
  for (step = 1; step <= 3; step++) {
    printf "hyperflow: metric=loss value=%.6f step=%d\n", loss * (1 + 1 / step), step
  }
  printf "hyperflow: metric=loss value=%.6f step=4\n", loss
}'
