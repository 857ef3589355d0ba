#!/usr/bin/env bash
# Several ranks per node (issue 18) on this one machine: tokens/s of the tiny model at the same global batch for
#   1 rank                  one trainer with all the cores              (data-parallel.sh run 1x<cores>)
#   1 node x 2 ranks        two trainers, the agent splits the cores    (run 2x<cores/2>: threads=cores/2 each)
#   2 nodes x 1 rank        two trainers, each agent gives its trainer
#                           all of its node's cores                     (run 2x<cores>)
# The trainers are launched exactly as the agent launches them for each layout (the `threads` setting and
# OMP_NUM_THREADS it gives them), over a TCP ring on 127.0.0.1. On one machine the "2 nodes" share its cores, so that
# row shows what oversubscription costs, not what two real nodes would do. Note the load average printed.
#
#   bench/ranks.sh                 # 30 steps;  STEPS=12 bench/ranks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CORES=$(nproc --all)
HALF=$(( CORES / 2 > 0 ? CORES / 2 : 1 ))
echo "== 1 rank = 1x$CORES, 1 node x 2 ranks = 2x$HALF, 2 nodes x 1 rank = 2x$CORES (RANKSxTHREADS)"
RUNS="1x$CORES 2x$HALF 2x$CORES" MODELS=${MODELS:-tiny} STEPS=${STEPS:-30} bench/data-parallel.sh
