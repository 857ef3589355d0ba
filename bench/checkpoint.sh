#!/usr/bin/env bash
# Sharded checkpoints with the real trainer CLI (`Main train`, one JVM per rank, a TCP ring on 127.0.0.1, one shared
# checkpoint directory): checkpoint every INTERVAL steps, and print
#   - the training stall per checkpoint on each rank (waiting for the previous checkpoint to settle + copying the
#     rank's shards; the trainer logs it) against the median step time;
#   - the write rate: the bytes all ranks wrote for a checkpoint / the longest rank's write-and-sync time (the ranks
#     write at the same time), median over the checkpoints, against the same directory's sequential write rate
#     measured first by dd with conv=fdatasync (one 512 MiB file);
#   - then a restart as a recovery does it: WORLD fresh JVMs restoring the newest checkpoint (every rank reads its
#     shards), and where their time goes up to the first new step: JVM + ND4J start-up and ring join, restore
#     (model init, reading and verifying the rank's ranges, all-gather), the rest of the set-up, the first step
#     (from the trainer's own log lines; the slowest rank of each phase).
#
#   bench/checkpoint.sh                                  # demo model (16.1M parameters, 193 MB per checkpoint), 2 ranks
#   MODEL=tiny WORLD=3 bench/checkpoint.sh
#   DIR=/mnt/shared bench/checkpoint.sh                  # the store to measure (default bench/out/checkpoint/store)
# Needs: JDK 17, python3, dd; the Europarl sample (prepared on first use under $STEADYRUN_CACHE or ~/.cache/steadyrun).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-demo}
WORLD=${WORLD:-2}
STEPS=${STEPS:-16}
INTERVAL=${INTERVAL:-4}
OUT=bench/out/checkpoint
DIR=${DIR:-$OUT/store}
mkdir -p "$OUT" "$DIR"

./mvnw -B -q -pl protocol,trainer-engine compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" $(find trainer-engine/src/main/java -name '*.java')
CP="$OUT/classes:$CP"

echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); store $DIR ($(df -T "$DIR" | awk 'NR==2{print $2}'))"
dd_out=$(dd if=/dev/zero of="$DIR/dd.bin" bs=1M count=512 conv=fdatasync 2>&1 | tail -n 1)
rm -f "$DIR/dd.bin"
echo "dd conv=fdatasync: $dd_out"

case $MODEL in
    tiny) MICRO=$((8 / WORLD > 0 ? 8 / WORLD : 1)); BATCH=$((WORLD * MICRO * 128)) ;;
    demo) MICRO=1; BATCH=$((WORLD * 256)) ;;
    *) echo "unknown model $MODEL" >&2; exit 2 ;;
esac
rm -rf "$DIR"/step-* "$DIR"/.tmp-* "$DIR"/abandoned
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
for ((r = 0; r < WORLD; r++)); do
    STEADYRUN_RING_SECRET=YmVuY2gtY2hlY2twb2ludC1zZWNyZXQ java -cp "$CP" dev.steadyrun.trainer.Main train \
        --checkpoint-dir "$DIR" --rank "$r" --world-size "$WORLD" --generation 1 \
        --rendezvous "127.0.0.1:$port" --json --set model="$MODEL" --set threads=1 \
        --set microBatch="$MICRO" --set batchTokens="$BATCH" --set maxSteps="$STEPS" \
        --set checkpointInterval="$INTERVAL" --set keepCheckpoints=2 \
        >"$OUT/rank$r.jsonl" 2>"$OUT/rank$r.log" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done

# the restart: one step more, from the newest checkpoint
pids=()
for ((r = 0; r < WORLD; r++)); do
    STEADYRUN_RING_SECRET=YmVuY2gtY2hlY2twb2ludC1zZWNyZXQ java -cp "$CP" dev.steadyrun.trainer.Main train \
        --checkpoint-dir "$DIR" --rank "$r" --world-size "$WORLD" --generation 2 --restore latest \
        --rendezvous "127.0.0.1:$port" --json --set maxSteps=$((STEPS + 1)) --set checkpointInterval=1000000 \
        >"$OUT/restart$r.jsonl" 2>"$OUT/restart$r.log" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done

python3 - "$OUT" "$WORLD" "$dd_out" <<'EOF'
import json, re, statistics, sys
out, world, dd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
steps = [json.loads(l) for l in open(f"{out}/rank0.jsonl") if '"tokensPerSec"' in l]
step_ms = statistics.median(s["stepTimeMs"] for s in steps[2:] or steps)
stalls, waits, copies, writes = [], [], [], {}
for r in range(world):
    for line in open(f"{out}/rank{r}.log"):
        m = re.search(r"checkpoint step (\d+): this rank's shards handed to the writer, training stalled ([\d.]+) ms"
                      r" \(([\d.]+) ms waiting for the previous checkpoint and handing over, ([\d.]+) ms copying\)", line)
        if m:
            stalls.append(float(m.group(2)))
            waits.append(float(m.group(3)))
            copies.append(float(m.group(4)))
        m = re.search(r"checkpoint step (\d+): rank (\d+) wrote and synced (\d+) bytes in ([\d.]+) ms", line)
        if m:
            writes.setdefault(int(m.group(1)), []).append((int(m.group(3)), float(m.group(4))))
committed = [json.loads(l) for l in open(f"{out}/rank0.jsonl") if '"manifestSha256"' in l]
rates = [sum(b for b, _ in w) / (max(t for _, t in w) / 1000) / 1e6 for w in writes.values() if len(w) == world]
m = re.search(r"([\d.]+) ([kMG]?B)/s", dd)
dd_rate = float(m.group(1)) * {"B": 1e-6, "kB": 1e-3, "MB": 1, "GB": 1e3}[m.group(2)] if m else float("nan")
size = max(sum(b for b, _ in w) for w in writes.values())
print(f"{len(committed)} checkpoints committed, {size / 1e6:.0f} MB each from {world} ranks; median step {step_ms:.0f} ms")
print(f"stall per checkpoint per rank: median {statistics.median(stalls):.2f} ms, max {max(stalls):.2f} ms"
      f" = {100 * statistics.median(stalls) / step_ms:.2f}% / {100 * max(stalls) / step_ms:.2f}% of a step"
      f" (copying: median {statistics.median(copies):.2f} ms, max {max(copies):.2f} ms;"
      f" waiting for the previous checkpoint and handing over: median {statistics.median(waits):.2f} ms,"
      f" max {max(waits):.2f} ms)")
print(f"write rate: median {statistics.median(rates):.0f} MB/s over {len(rates)} checkpoints"
      f" (min {min(rates):.0f}, max {max(rates):.0f}); dd conv=fdatasync {dd_rate:.0f} MB/s;"
      f" ratio {statistics.median(rates) / dd_rate:.2f}")
joined, restored, ready, first = [], [], [], []
for r in range(world):
    log = open(f"{out}/restart{r}.log").read()
    joined.append(int(re.search(r"joined the ring of generation \d+ as rank \d+/\d+, (\d+) ms after the JVM started", log).group(1)))
    restored.append(int(re.search(r"restored step \d+ \(.*\) in (\d+) ms", log).group(1)))
    ready.append(int(re.search(r"ready (\d+) ms after the JVM started", log).group(1)))
    first.append([json.loads(l) for l in open(f"{out}/restart{r}.jsonl") if '"tokensPerSec"' in l][0]["stepTimeMs"])
print(f"restart on {world} ranks (slowest rank): JVM + ND4J start-up + ring join {max(joined)} ms,"
      f" restore {max(restored)} ms, other set-up (picking and opening the checkpoint, data, knobs) {max(ready) - max(joined) - max(restored)} ms,"
      f" ready {max(ready)} ms after the JVM started; first step {max(first):.0f} ms;"
      f" launch to first step about {max(ready) + max(first):.0f} ms")
EOF
