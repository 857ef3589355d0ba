#!/usr/bin/env bash
# Scheduling benchmark, in process (no database, no HTTP): the heartbeat path's directive lookup for a fleet of
# NODES nodes, swapping in a snapshot of that size, and one gang placement of WORLD ranks + SPARES spares.
# The end-to-end heartbeat path over HTTP is measured by bench/heartbeat.sh.
#
#   bench/scheduling.sh                    # 10,000 nodes, 512 ranks + 16 spares
#   NODES=1000 WORLD=64 bench/scheduling.sh
# Needs: JDK 17, Maven (protocol installed in ~/.m2: mvn -pl protocol install).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out/scheduling
mkdir -p "$OUT"
# Compiled here with the harness, so the run does not depend on (or disturb) orchestrator/target/.
mvn -B -q -o -f orchestrator/pom.xml dependency:build-classpath -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -proc:none -d "$OUT/classes" -cp "$CP" $(find orchestrator/src/main/java -name '*.java') \
    bench/scheduling/src/dev/steadyrun/orchestrator/scheduling/SchedulingBench.java
echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
java -Xmx1g -cp "$OUT/classes:$CP" dev.steadyrun.orchestrator.scheduling.SchedulingBench \
    --nodes "${NODES:-10000}" --world "${WORLD:-512}" --spares "${SPARES:-16}" --rounds "${ROUNDS:-15}"
