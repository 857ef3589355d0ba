#!/usr/bin/env bash
# TCP collectives on loopback, in one JVM, in interleaved rounds: raw TCP throughput of one socket; for N = 2 and 4
# ranks (threads), ring all-reduce bus bandwidth (2(N-1)/N x bytes / time, the NCCL convention) on 64 MiB of floats in
# a direct buffer (as the trainer hands over ND4J's memory), and one link of a raw TCP ring of N sockets all streaming
# at once (4 MiB writes from one cache-resident buffer, like the one socket). Ratios of bus bandwidth to
# each raw figure, median and range over the rounds (target: >= 0.7; N x bus / one socket is the all-reduce's share of
# loopback, whose N links share this machine's cores). Every rank runs on this machine: note the load average and
# core count printed first; the figures only mean something on an otherwise idle machine.
#
#   bench/collectives.sh                        # 64 MiB, 5 rounds, N = 2 4
#   MIB=16 ROUNDS=3 RANKS="2" bench/collectives.sh
#   BUCKETS="262144 1048576 4194304" DIRECT=false bench/collectives.sh   # bucket sizes; float[] instead of direct
# Needs: JDK 17.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out/collectives
mkdir -p "$OUT"
# (protocol comes from the reactor: its target/classes, so nothing needs installing in ~/.m2)
./mvnw -B -q -pl protocol,collectives compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" collectives/src/main/java/dev/steadyrun/collectives/*.java \
    bench/collectives/src/dev/steadyrun/collectives/CollectivesBench.java

echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for BUCKET in ${BUCKETS:-1048576}; do
    echo "== bucket $BUCKET bytes, direct buffer ${DIRECT:-true}"
    java -Xmx2g -DbucketBytes="$BUCKET" -Ddirect="${DIRECT:-true}" -cp "$OUT/classes:$CP" \
        dev.steadyrun.collectives.CollectivesBench "${MIB:-64}" "${ROUNDS:-5}" ${RANKS:-2 4} 2>"$OUT/bench-$BUCKET.log"
done
echo "== load average after $(cut -d' ' -f1-3 /proc/loadavg)"
