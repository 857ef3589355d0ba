#!/usr/bin/env bash
# ZeRO-1 against fully sharded data parallelism (trainer config `sharding=zero1|fsdp`) with the real trainer CLI
# (`Main train`, one JVM per rank, a TCP ring on 127.0.0.1) at 1, 2 and 4 ranks with the SAME global batch. For each
# run, rank 0's figures:
#   - held: bytes of FP32 parameters + gradients + Adam moments this rank keeps between steps (the trainer logs it:
#     ZeRO-1 keeps whole parameters and gradients, FSDP its 1/N chunks of all four);
#   - gathered peak (FSDP only): the most bytes of gathered parameters and gradient buffers it held at once during a
#     micro-batch (the embedding/head/final-LayerNorm unit stays gathered for a whole micro-batch, plus one block);
#   - tokens/s = global tokens per step / step time, median of the steps after the first two; RSS at the last step.
# All ranks share this machine's cores (1 ND4J thread each): note the core count and load average printed.
#
#   bench/fsdp.sh                                 # tiny model (L=2 d=128 T=128, 1024 tokens/step), 12 steps
#   MODEL=demo STEPS=6 WORLDS="1 2" bench/fsdp.sh
# Needs: JDK 17, python3; the Europarl sample (prepared on first use under $STEADYRUN_CACHE or ~/.cache/steadyrun).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-tiny}
WORLDS=${WORLDS:-1 2 4}
STEPS=${STEPS:-12}
OUT=bench/out/fsdp
mkdir -p "$OUT"

# compiled here, so the run does not depend on (or disturb) target/
./mvnw -B -q -pl protocol,collectives,trainer-engine compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" $(find trainer-engine/src/main/java -name '*.java')
CP="$OUT/classes:$CP"

summary() {   # metrics file, log file
    python3 - "$1" "$2" <<'PY'
import json, re, statistics, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{') and '"tokensPerSec"' in l]
log = open(sys.argv[2]).read()
held = re.search(r'sharding: (\d+) bytes', log)
peak = re.search(r'at most (\d+) bytes of gathered', log)
later = steps[2:] or steps
print("held %11s B, gathered peak %11s B, %6.0f tokens/s (median of %d steps), RSS %4.0f MiB, final loss %.4f" % (
    held.group(1) if held else "?", peak.group(1) if peak else "-",
    statistics.median(s["tokensPerSec"] for s in later), len(later), steps[-1]["rssBytes"] / 2**20,
    steps[-1]["loss"]))
PY
}

run() {   # name world sharding micro batch
    local name=$1 world=$2 sharding=$3 micro=$4 batch=$5
    local port pids=()
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -rf "$OUT/ck-$name"
    for ((r = 0; r < world; r++)); do
        STEADYRUN_RING_SECRET=YmVuY2gtZnNkcC1yaW5nLXNlY3JldA OMP_NUM_THREADS=1 java -cp "$CP" \
            dev.steadyrun.trainer.Main train --checkpoint-dir "$OUT/ck-$name" --rank "$r" --world-size "$world" \
            --generation 1 --rendezvous "127.0.0.1:$port" --json --set model="$MODEL" --set threads=1 \
            --set sharding="$sharding" --set microBatch="$micro" --set batchTokens="$batch" \
            --set maxSteps="$STEPS" --set checkpointInterval=1000000 \
            >"$OUT/$name-rank$r.jsonl" 2>"$OUT/$name-rank$r.log" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid"
    done
    printf '%-18s %s\n' "$name:" "$(summary "$OUT/$name-rank0.jsonl" "$OUT/$name-rank0.log")"
}

case $MODEL in
    tiny) SEQS=8; BATCH=1024 ;;    # 8 sequences of 128 tokens per step
    demo) SEQS=4; BATCH=1024 ;;    # 4 sequences of 256 tokens per step
    *) echo "unknown model $MODEL" >&2; exit 2 ;;
esac
echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $MODEL, global batch $BATCH tokens, $STEPS steps"
for WORLD in $WORLDS; do
    for SHARDING in zero1 fsdp; do
        run "$SHARDING-${WORLD}ranks" "$WORLD" "$SHARDING" $((SEQS / WORLD)) "$BATCH"
    done
done
echo "== load average $(cut -d' ' -f1-3 /proc/loadavg)"
