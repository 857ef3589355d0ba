#!/usr/bin/env bash
# Trainer-engine benchmark (Europarl sample, prepared once under $STEADYRUN_CACHE or ~/.cache/steadyrun):
#   1. ND4J FP32 GEMM GFLOP/s, then the 2-layer d=768 h=12 T=512 model's model FLOP/s in the same JVM, and the ratio
#      (target: >= 0.5); also the GEMM re-measured after every step and each step's ratio against it (the median
#      of those is the steadier figure when the machine's load drifts during the run);
#   2. the tiny model (L=2 d=128 h=4 T=128 B=8) for 100 steps: tokens/s (target: >= 600) and RSS at steps 10 and
#      100 (target: within 10%).
# Each part runs in a fresh JVM with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (faster large allocations). The figures
# are only meaningful on an otherwise idle machine: note the load average printed first.
#
#   bench/trainer.sh              # both parts
#   PARTS=tiny bench/trainer.sh   # one part;  STEPS=12 for more d=768 steps
# Needs: JDK 17 and the Maven wrapper's dependencies in ~/.m2 (protocol is compiled in the same reactor, not installed).
set -euo pipefail
cd "$(dirname "$0")/.."

PARTS=${PARTS:-"flops tiny"}
OUT=bench/out/trainer
mkdir -p "$OUT"

# The trainer is compiled here with the harness, so the run does not depend on trainer-engine/target/; protocol is
# compiled in the reactor (its classes directory is on the classpath), trainer-engine's classpath is written last.
./mvnw -B -q -pl protocol,trainer-engine compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" $(find trainer-engine/src/main/java -name '*.java') \
    bench/trainer/src/dev/steadyrun/trainer/TrainerBench.java
CP="$OUT/classes:$CP"

echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), OMP_NUM_THREADS=${OMP_NUM_THREADS:-all}"
for PART in $PARTS; do
    echo "== $PART"
    rm -rf "$OUT/work"
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 java -Dsteps="${STEPS:-8}" -cp "$CP" dev.steadyrun.trainer.TrainerBench \
        "$PART" "$OUT/work" 2>"$OUT/$PART.log"
done
