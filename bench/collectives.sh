#!/usr/bin/env bash
# TCP collectives on loopback, in one JVM: raw TCP socket throughput, then ring all-reduce bus bandwidth
# (2(N-1)/N x bytes / time, the NCCL convention) for N = 2 and 4 ranks (threads) on 64 MiB of floats, and the ratio
# (target: >= 0.7). Every rank runs on this machine, so the ranks share its cores: note the load average and core
# count printed first; the figures only mean something on an otherwise idle machine.
#
#   bench/collectives.sh                        # 64 MiB, 5 timed calls, N = 2 4
#   MIB=16 ITERATIONS=3 RANKS="2" bench/collectives.sh
# Needs: JDK 17, Maven (protocol installed in ~/.m2: mvn -pl protocol install).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out/collectives
mkdir -p "$OUT"
mvn -B -q -o -pl trainer-engine dependency:build-classpath -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" trainer-engine/src/main/java/dev/steadyrun/trainer/dist/*.java \
    bench/collectives/src/dev/steadyrun/trainer/dist/CollectivesBench.java

echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
java -Xmx2g -cp "$OUT/classes:$CP" dev.steadyrun.trainer.dist.CollectivesBench \
    "${MIB:-64}" "${ITERATIONS:-5}" ${RANKS:-2 4} 2>"$OUT/bench.log"
echo "== load average after $(cut -d' ' -f1-3 /proc/loadavg)"
