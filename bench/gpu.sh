#!/usr/bin/env bash
# The trainer on a GPU (issue 18): builds trainer-engine with -Pcuda (ND4J's CUDA 11.6 backend and JavaCPP's CUDA
# runtime, about 2.4 GB from Maven Central on first use), then in one JVM: which backend and device it runs on, GEMM
# TFLOP/s in FP32 and FP16 (8192^3, timed to completion), and a model's TFLOP/s through the real training loop
# (default L=4 d=2048 h=16 T=1024, 4 sequences a step), with the ratios and the OPT-175B anchor (147 TFLOP/s per
# A100). One GPU: the first one CUDA_VISIBLE_DEVICES shows.
#
#   bench/gpu.sh
#   CUDA_VISIBLE_DEVICES=3 LAYERS=8 DMODEL=4096 HEADS=32 MICRO=2 bench/gpu.sh
#   BACKEND=cpu bench/gpu.sh     # the same figures on ND4J's CPU backend (what this repository's machine ran)
# Needs: JDK 17, the NVIDIA driver (CUDA 11.6 or newer capable); not the CUDA toolkit. Never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out/gpu
mkdir -p "$OUT"
PROFILE=-Pcuda
if [ "${BACKEND:-cuda}" = cpu ]; then PROFILE=; fi
./mvnw -B -q $PROFILE -pl protocol,collectives,trainer-engine compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="collectives/target/classes:$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" $(find trainer-engine/src/main/java -name '*.java') \
    bench/trainer/src/dev/steadyrun/trainer/TrainerBench.java bench/gpu/src/dev/steadyrun/trainer/GpuBench.java
CP="$OUT/classes:$CP"

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
echo "== load average $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$OUT/work"
java -Dlayers="${LAYERS:-4}" -Dheads="${HEADS:-16}" -DdModel="${DMODEL:-2048}" -DseqLen="${SEQ:-1024}" \
    -DmicroBatch="${MICRO:-4}" -Dsteps="${STEPS:-12}" -Dgemm="${GEMM:-8192}" -Dprecision="${PRECISION:-fp32}" \
    -cp "$CP" dev.steadyrun.trainer.GpuBench "$OUT/work" 2>"$OUT/gpu.log"
