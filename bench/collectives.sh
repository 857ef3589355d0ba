#!/usr/bin/env bash
# TCP collectives on loopback, in one JVM: raw TCP socket throughput, then ring all-reduce bus bandwidth
# (2(N-1)/N x bytes / time, the NCCL convention) for N = 2 and 4 ranks (threads) on 64 MiB of floats, and its ratio
# (target: >= 0.7) to one socket alone and to one link of a raw TCP ring of N sockets all streaming at once. Every rank runs on this machine, so the ranks share its cores: note the load average and core
# count printed first; the figures only mean something on an otherwise idle machine.
#
#   bench/collectives.sh                        # 64 MiB, 5 timed calls, N = 2 4
#   MIB=16 ITERATIONS=3 RANKS="2" bench/collectives.sh
#   BUCKETS="1048576 4194304 16777216" DIRECT=true bench/collectives.sh   # bucket sizes; direct FloatBuffer data
# Needs: JDK 17.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out/collectives
mkdir -p "$OUT"
# (protocol comes from the reactor: its target/classes, so nothing needs installing in ~/.m2)
./mvnw -B -q -o -pl protocol,trainer-engine compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" trainer-engine/src/main/java/dev/steadyrun/trainer/dist/*.java \
    bench/collectives/src/dev/steadyrun/trainer/dist/CollectivesBench.java

echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for BUCKET in ${BUCKETS:-1048576}; do
    echo "== bucket $BUCKET bytes, direct buffer ${DIRECT:-false}"
    java -Xmx2g -DbucketBytes="$BUCKET" -Ddirect="${DIRECT:-false}" -cp "$OUT/classes:$CP" \
        dev.steadyrun.trainer.dist.CollectivesBench "${MIB:-64}" "${ITERATIONS:-5}" ${RANKS:-2 4} 2>"$OUT/bench.log"
done
echo "== load average after $(cut -d' ' -f1-3 /proc/loadavg)"
