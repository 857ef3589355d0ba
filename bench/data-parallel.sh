#!/usr/bin/env bash
# Data-parallel training throughput: the real trainer CLI (`Main train`, one JVM per rank, a TCP ring on 127.0.0.1)
# at 1 rank and at 2 ranks with the SAME global batch (batchTokens), tokens/s = global tokens per step / step time
# (median of the steps after the first two; every rank reports the global figure, rank 0's is printed).
# 1 rank runs twice: with 1 ND4J thread and with 2 (all cores), so the 2-rank figure (1 thread per rank) can be
# compared against either. All ranks share this machine's cores: note the core count and load average printed.
#
#   bench/data-parallel.sh                       # tiny model (L=2 d=128 T=128, 1024 tokens/step), 30 steps
#   MODELS="tiny demo" STEPS=12 bench/data-parallel.sh
#   RUNS="1x1 2x1" MODELS=demo STEPS=6 bench/data-parallel.sh   # only some runs: RANKSxTHREADS
# Needs: JDK 17, python3; the Europarl sample (prepared on first use under
# $STEADYRUN_CACHE or ~/.cache/steadyrun).
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${MODELS:-tiny}
RUNS=${RUNS:-1x1 1x2 2x1}
STEPS=${STEPS:-30}
OUT=bench/out/data-parallel
mkdir -p "$OUT"

# compiled here, so the run does not depend on (or disturb) target/
# (protocol and collectives come from the reactor: their target/classes, so nothing needs installing in ~/.m2)
./mvnw -B -q -pl protocol,collectives,trainer-engine compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" $(find trainer-engine/src/main/java -name '*.java')
CP="$OUT/classes:$CP"

# median tokens/s and step time of a metrics file, skipping the first two steps (JIT, first allocations)
summary() {
    python3 - "$1" <<'EOF'
import json, statistics, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{') and '"tokensPerSec"' in l]
later = steps[2:] or steps
print("%.0f tokens/s, step %.0f ms (median of %d steps), final loss %.4f" % (
    statistics.median(s["tokensPerSec"] for s in later), statistics.median(s["stepTimeMs"] for s in later),
    len(later), steps[-1]["loss"]))
EOF
}

# run NAME WORLD THREADS MICRO BATCH_TOKENS MODEL: trains STEPS steps on WORLD ranks and prints rank 0's summary
run() {
    local name=$1 world=$2 threads=$3 micro=$4 batch=$5 model=$6
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    local pids=()
    rm -rf "$OUT/ck-$name"   # one checkpoint store shared by the ranks, as every rank writes its shards there
    for ((r = 0; r < world; r++)); do
        OMP_NUM_THREADS=$threads GLIBC_TUNABLES=glibc.malloc.hugetlb=1 java -cp "$CP" dev.steadyrun.trainer.Main train \
            --checkpoint-dir "$OUT/ck-$name" --rank "$r" --world-size "$world" --generation 1 \
            --rendezvous "127.0.0.1:$port" --json --set model="$model" --set threads="$threads" \
            --set microBatch="$micro" --set batchTokens="$batch" --set maxSteps="$STEPS" \
            --set checkpointInterval=1000000 >"$OUT/$name-rank$r.jsonl" 2>"$OUT/$name-rank$r.log" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid"
    done
    echo "$name: $(summary "$OUT/$name-rank0.jsonl")"
}

# every rank of a run proves the same ring secret, as the agent hands it to the ranks of one generation
STEADYRUN_RING_SECRET=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
export STEADYRUN_RING_SECRET

echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for MODEL in $MODELS; do
    case $MODEL in
        tiny) MICRO=8; BATCH=1024 ;;    # 8 sequences of 128 tokens per step
        demo) MICRO=8; BATCH=8192 ;;    # 32 sequences of 256 tokens per step (accumulated)
        *) echo "unknown model $MODEL" >&2; exit 2 ;;
    esac
    echo "== $MODEL, global batch $BATCH tokens, $STEPS steps"
    for RUN in $RUNS; do
        WORLD=${RUN%x*}
        THREADS=${RUN#*x}
        run "$MODEL-${WORLD}ranks-${THREADS}threads" "$WORLD" "$THREADS" $((MICRO / WORLD)) "$BATCH" "$MODEL"
    done
    echo "== load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
