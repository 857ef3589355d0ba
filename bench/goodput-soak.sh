#!/usr/bin/env bash
# Goodput of one trace under two recovery policies: bench/soak.sh twice with the same SEED, MINUTES and MEAN_GAP, first
# with Steadyrun's policy and SPARES spares, then with the baseline's (POLICY=baseline: every divergence goes to a
# human, no straggler scoring) and no spares, on the same NODES: a node the baseline loses is replaced from the fleet's
# free nodes as soon as one is free (the wait for new hardware is not replayed: the soak's report prices it). Writes
# bench/out/goodput-soak/ours/, baseline/ (each a full soak report: report.md, report.json, report.svg) and
# comparison.md. See docs/soak.md. Failures are injected on the trace's clock (TRACE_CLOCK=true by default here), so
# both soaks see the same failures at the same times whatever each policy does with them.
#
#   MINUTES=30 bench/goodput-soak.sh
#   MINUTES=10 SEED=3 bench/goodput-soak.sh
#
# Knobs: everything bench/soak.sh reads (NODES, WORLD, SPARES, MINUTES, SEED, MEAN_GAP, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/goodput-soak
mkdir -p "$OUT"
# the drain is longer than soak.sh's: failures that land in restarts double the backoff up to its 5-minute cap, and
# the last incidents settle only when a generation steps after it
export MINUTES=${MINUTES:-30} SEED=${SEED:-1} TRACE_CLOCK=${TRACE_CLOCK:-true} DRAIN_SECONDS=${DRAIN_SECONDS:-600}

echo "== Steadyrun's policy"
SOAK_OUT="$OUT/ours" POLICY=ours bench/soak.sh
OURS=$?
echo "== the baseline's policy"
SOAK_SKIP_BUILD=1 SOAK_OUT="$OUT/baseline" POLICY=baseline SPARES=0 bench/soak.sh
BASE=$?
CP="bench/soak/target/classes:$(cat bench/soak/target/classpath.txt)"
java -cp "$CP" dev.steadyrun.soak.GoodputComparison "$OUT/ours/report.json" "$OUT/baseline/report.json" \
    "$OUT/comparison.md" || exit 2
echo "written: $OUT/comparison.md (soak exit codes: ours $OURS, baseline $BASE)"
# the baseline's own invariants may break (a run paused for a human past the soak's limits): ours decides
exit $OURS
