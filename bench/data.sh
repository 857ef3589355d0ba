#!/usr/bin/env bash
# Data pipeline benchmark: tokenization and dedup throughput per core on the Europarl sample, near-duplicate
# precision/recall against exact Jaccard, then the whole `prepare` pipeline over 1x, 2x and 4x Europarl (distinct
# copies) in a fresh JVM each, printing throughput, dedup index size, heap after GC and peak RSS. Rates are per
# CPU-second of the working thread ("per core"), so a busy shared machine does not skew them; wall time is shown too.
#
#   bench/data.sh                  # everything
#   SCALES="1 2" bench/data.sh     # fewer scale steps
# Needs: JDK 17, Maven (protocol installed in ~/.m2: mvn -pl protocol install).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALES=${SCALES:-"1 2 4"}
HEAP=${HEAP:-512m}
OUT=bench/out/data
mkdir -p "$OUT"

# The data package is compiled here with the harness, so the run does not depend on (or disturb) target/.
mvn -B -q -o -f trainer-engine/pom.xml dependency:build-classpath -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -d "$OUT/classes" -cp "$CP" trainer-engine/src/main/java/dev/steadyrun/trainer/data/*.java \
    bench/data/src/dev/steadyrun/trainer/data/DataBench.java
CP="$OUT/classes:$CP"

echo "== throughput per core and near-duplicate accuracy (Europarl sample)"
java -Xmx"$HEAP" -cp "$CP" dev.steadyrun.trainer.data.DataBench micro "$OUT/work"

for K in $SCALES; do
    echo "== prepare ${K}x Europarl, -Xmx$HEAP"
    java -Xmx"$HEAP" -cp "$CP" dev.steadyrun.trainer.data.DataBench scale "$K" "$OUT/work"
done
