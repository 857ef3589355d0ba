#!/usr/bin/env bash
# Goodput of one trace under two recovery policies: bench/soak.sh twice with the same SEED, MINUTES and MEAN_GAP, first
# with Steadyrun's policy on NODES nodes with SPARES spares, then with the baseline's (POLICY=baseline: every
# divergence goes to a human, no straggler scoring) on a fleet of exactly WORLD nodes and no spares, so a lost node's
# restart waits for its repair (REPAIR_SECONDS) as it would for a replacement. Writes bench/out/goodput-soak/ours/,
# baseline/ (each a full soak report: report.md, report.json, report.svg) and comparison.md. See docs/soak.md.
#
#   MINUTES=30 bench/goodput-soak.sh
#   MINUTES=10 SEED=3 BASELINE_REPAIR_SECONDS=300 bench/goodput-soak.sh
#
# Knobs: everything bench/soak.sh reads (NODES, WORLD, SPARES, MINUTES, SEED, MEAN_GAP, ...), and
# BASELINE_REPAIR_SECONDS (REPAIR_SECONDS or 90): how long the baseline waits for a lost node.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/goodput-soak
mkdir -p "$OUT"
export MINUTES=${MINUTES:-30} SEED=${SEED:-1}

echo "== Steadyrun's policy"
SOAK_OUT="$OUT/ours" POLICY=ours bench/soak.sh
OURS=$?
echo "== the baseline's policy"
SOAK_SKIP_BUILD=1 SOAK_OUT="$OUT/baseline" POLICY=baseline NODES="${WORLD:-992}" SPARES=0 \
    REPAIR_SECONDS="${BASELINE_REPAIR_SECONDS:-${REPAIR_SECONDS:-90}}" bench/soak.sh
BASE=$?
CP="bench/soak/target/classes:$(cat bench/soak/target/classpath.txt)"
java -cp "$CP" dev.steadyrun.soak.GoodputComparison "$OUT/ours/report.json" "$OUT/baseline/report.json" \
    "$OUT/comparison.md" || exit 2
echo "written: $OUT/comparison.md (soak exit codes: ours $OURS, baseline $BASE)"
# the baseline's own invariants may break (a run paused for a human past the soak's limits): ours decides
exit $OURS
