#!/usr/bin/env bash
# Memory snapshots replicated to the ring successor, with the real trainer CLI (one JVM per rank, a TCP ring on
# 127.0.0.1, each rank with its own "node" snapshot root under /dev/shm), and print
#   - the cost of a snapshot to the training loop: the stall before the next optimizer update (the copy), per
#     snapshot and per step, against the median step time of the same run; the replication (agreeing, exchanging
#     sums, sending the replica) runs beside training on a replica ring: how long after the snapshot it was done,
#     and the ring's one-time formation per generation;
#   - the median step time of a run without snapshots, for comparison (noisy on a shared machine);
#   - work lost to a failure: at most SNAP steps (on average SNAP/2) against at most DURABLE with durable
#     checkpoints only;
#   - a restart after rank 1's node is lost (its snapshot root deleted): WORLD fresh JVMs restoring the newest
#     snapshot from memory (gathering over the ring included) against restoring the durable checkpoint of the same
#     step from disk, from the trainers' own "restored step … in N ms" lines (slowest rank).
#
#   MODEL=tiny WORLD=3 bench/snapshot.sh
#   STEPS=12 SNAP=2 DURABLE=100 bench/snapshot.sh
# Needs: JDK 17, python3, /dev/shm; the Europarl sample (prepared on first use under $STEADYRUN_CACHE or
# ~/.cache/steadyrun).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-tiny}
WORLD=${WORLD:-3}
STEPS=${STEPS:-12}
SNAP=${SNAP:-2}
DURABLE=${DURABLE:-100}
OUT=bench/out/snapshot
SHM=${SHM:-/dev/shm/steadyrun-bench}
mkdir -p "$OUT"
rm -rf "$SHM" "$OUT"/store-* "$OUT"/*.log "$OUT"/*.jsonl

./mvnw -B -q -pl protocol,collectives,trainer-engine compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" $(find protocol/src/main/java collectives/src/main/java \
    trainer-engine/src/main/java -name '*.java')
CP="$OUT/classes:$CP"

case $MODEL in
    tiny) MICRO=$((8 / WORLD > 0 ? 8 / WORLD : 1)); BATCH=$((WORLD * MICRO * 128)) ;;
    demo) MICRO=1; BATCH=$((WORLD * 256)) ;;
    *) echo "unknown model $MODEL" >&2; exit 2 ;;
esac
echo "== $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); model $MODEL, $WORLD ranks," \
    "$STEPS steps, a snapshot every $SNAP, snapshot roots under $SHM ($(df -T /dev/shm | awk 'NR==2{print $2}'))"

# ranks NAME GENERATION STORE EXTRA... : WORLD trainers, rank r with the snapshot root $SHM/node<r>, until they end
ranks() {
    local name=$1 generation=$2 store=$3
    shift 3
    local port pids=()
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    for ((r = 0; r < WORLD; r++)); do
        STEADYRUN_RING_SECRET=YmVuY2gtc25hcHNob3Qtc2VjcmV0LXh4 java -cp "$CP" dev.steadyrun.trainer.Main train \
            --checkpoint-dir "$store" --snapshot-dir "$SHM/node$r" --rank "$r" --world-size "$WORLD" \
            --generation "$generation" --rendezvous "127.0.0.1:$port" --json "$@" \
            >"$OUT/$name$r.jsonl" 2>"$OUT/$name$r.log" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid"
    done
}

CONFIG=(--set model="$MODEL" --set threads=1 --set microBatch="$MICRO" --set batchTokens="$BATCH"
        --set maxSteps="$STEPS" --set checkpointInterval="$DURABLE")
ranks plain 1 "$OUT/store-plain" "${CONFIG[@]}" --set snapshotInterval=0
ranks snap 1 "$OUT/store-snap" "${CONFIG[@]}" --set snapshotInterval="$SNAP"

sha=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if "\"memory\"" in l: s = json.loads(l)
print(s["manifestSha256"])' "$OUT/snap0.jsonl")
rm -rf "$SHM/node1"   # rank 1's node is lost with its memory; a fresh rank 1 starts there with nothing
ranks memory 2 "$OUT/store-snap" --restore "memory:$STEPS" --restore-sha256 "$sha" --set maxSteps=$((STEPS + 1))
ranks disk 2 "$OUT/store-snap" --restore "$OUT/store-snap/$(printf 'step-%08d' "$STEPS")" \
    --set maxSteps=$((STEPS + 1)) --set snapshotInterval=0

python3 - "$OUT" "$WORLD" "$SNAP" "$DURABLE" <<'EOF'
import json, re, statistics, sys
out, world, snap, durable = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def median_step(name):
    steps = [json.loads(l) for l in open(f"{out}/{name}0.jsonl") if '"tokensPerSec"' in l]
    return statistics.median(s["stepTimeMs"] for s in steps[2:] or steps)
plain, with_snap = median_step("plain"), median_step("snap")
copies, lags, rings = [], [], []
for r in range(world):
    log = open(f"{out}/snap{r}.log").read()
    copies += [float(x) for x in re.findall(r"snapshot step \d+: shard handed over, training stalled ([\d.]+) ms", log)]
    lags += [float(x) for x in re.findall(r"snapshot step \d+: replicated ([\d.]+) ms after it was taken", log)]
    rings += [float(x) for x in re.findall(r"snapshot replica ring formed in ([\d.]+) ms", log)]
lines = [json.loads(l) for l in open(f"{out}/snap1.jsonl") if '"memory"' in l]
per_snapshot = statistics.median(copies)
print(f"{len(lines)} snapshots on rank 1, {lines[-1]['bytes'] / 1e6:.0f} MB each (all ranks' files;"
      f" a node holds 2/{world} of them); median step {with_snap:.0f} ms with snapshots, {plain:.0f} ms without")
print(f"cost per snapshot per rank to the loop: copy stall median {statistics.median(copies):.2f} ms"
      f" (max {max(copies):.2f}); replica ring formed once per generation in {max(rings):.1f} ms (slowest rank);"
      f" replication done beside training a median {statistics.median(lags):.0f} ms after the snapshot"
      f" (max {max(lags):.0f})")
# the loop barely waits; what a snapshot costs is the CPU its write and replication take from training on the
# same cores: the step time with snapshots against without (noisy on a shared machine), spread over the interval
extra = with_snap - plain
print(f"step time with a snapshot every {snap} steps {with_snap:.0f} ms against {plain:.0f} ms without:"
      f" {extra:+.0f} ms a step ({100 * extra / plain:+.1f}%), {extra * snap:.0f} ms per snapshot")
for interval in (2, 5, 10, 20):
    print(f"  at snapshotInterval {interval}: {extra * snap / interval:+.0f} ms per step"
          f" ({100 * extra * snap / interval / plain:+.1f}% of a step), loop stall"
          f" {per_snapshot / interval:.2f} ms per step")
print(f"work lost to a node loss: at most {snap} steps (mean {snap / 2:g}) with snapshots every {snap};"
      f" at most {durable} (mean {durable / 2:g}) with durable checkpoints every {durable} alone")
def restore(name):
    slowest, gathered = 0, 0
    for r in range(world):
        log = open(f"{out}/{name}{r}.log").read()
        slowest = max(slowest, int(re.search(r"restored step \d+ \(.*\) in (\d+) ms", log).group(1)))
        m = re.search(r"gathered \d+ files \((\d+) bytes\) from the ranks holding them in (\d+) ms", log)
        gathered = max(gathered, int(m.group(2))) if m else gathered
    return slowest, gathered
memory, gathered = restore("memory")
disk, _ = restore("disk")
print(f"restart after rank 1's node was lost (slowest rank): restore from memory {gathered + memory} ms"
      f" (gathering the snapshot over the ring {gathered} ms, then restoring it {memory} ms) vs from disk {disk} ms")
EOF
rm -rf "$SHM"
