#!/usr/bin/env bash
# Flat ring all-reduce against the hierarchical one (node reduce-scatter, cross-node all-reduce of one chunk, node
# all-gather; issue 18) for M "nodes" x L ranks, in interleaved rounds: per buffer size, median and range of the
# slowest rank's time and of bus bandwidth (2(N-1)/N x bytes / time, N = M x L, the NCCL convention), and of the
# per-round ratio flat time / hierarchical time (> 1: hierarchical is faster). Two topologies per layout:
#   loopback  one JVM, every ring on 127.0.0.1
#   netns     (root with `ip netns` only) one JVM per node, each in its own network namespace: a node's ranks talk
#             over the namespace's loopback, cross-node traffic crosses veth interfaces (2 nodes: one veth pair;
#             more: a veth per node into a bridge), so it really passes through an interface (MTU 1500)
# Every rank runs on this machine's cores, however many "nodes": note the core count and load averages printed.
#
#   bench/hierarchical.sh                                  # 2x2 and 4x2, 1 16 64 MiB, 5 rounds, both topologies
#   LAYOUTS="2x2" SIZES="16" ROUNDS=3 TOPOLOGIES=loopback bench/hierarchical.sh
# Needs: JDK 17; for netns, root and iproute2. Namespaces, veths and bridge are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out/hierarchical
mkdir -p "$OUT"
./mvnw -B -q -pl protocol,collectives compile dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >/dev/null
CP="$(cat "$OUT/classpath.txt")"
rm -rf "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$CP" collectives/src/main/java/dev/steadyrun/collectives/*.java \
    bench/collectives/src/dev/steadyrun/collectives/HierarchicalBench.java \
    bench/collectives/src/dev/steadyrun/collectives/CollectivesBench.java
JAVA=(java -Xmx1g -XX:MaxDirectMemorySize=4g -cp "$OUT/classes:$CP" dev.steadyrun.collectives.HierarchicalBench)

# every JVM of one ring must hold the same secret: base64url of 32 random bytes
STEADYRUN_RING_SECRET="$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
export STEADYRUN_RING_SECRET
SIZES=${SIZES:-1 16 64}
ROUNDS=${ROUNDS:-5}
TOPOLOGIES=${TOPOLOGIES:-loopback netns}
# a port range below the ephemeral one (32768-60999 on Linux), drawn per run so two runs rarely collide
PORT=$(( 20000 + RANDOM % 10000 ))
NS="srh$$"
SUBNET=10.213.0

load() {
    cut -d' ' -f1-3 /proc/loadavg
}

cleanup() {
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS-" || true); do
        ip netns delete "$ns"
    done
    ip link delete "${NS}br" 2>/dev/null || true
}

# namespaces $NS-0 .. $NS-(M-1); node m at $SUBNET.(m+1)
netns_up() {
    local m nodes=$1
    for (( m = 0; m < nodes; m++ )); do
        ip netns add "$NS-$m"
        ip -n "$NS-$m" link set lo up
    done
    if (( nodes == 2 )); then
        ip link add "${NS}v0" netns "$NS-0" type veth peer name "${NS}v1" netns "$NS-1"
    else
        ip link add "${NS}br" type bridge
        ip link set "${NS}br" up
        for (( m = 0; m < nodes; m++ )); do
            ip link add "${NS}v$m" netns "$NS-$m" type veth peer name "${NS}p$m"
            ip link set "${NS}p$m" master "${NS}br" up
        done
    fi
    for (( m = 0; m < nodes; m++ )); do
        ip -n "$NS-$m" addr add "$SUBNET.$(( m + 1 ))/24" dev "${NS}v$m"
        ip -n "$NS-$m" link set "${NS}v$m" up
    done
}

netns_possible() {
    [[ $(id -u) == 0 ]] && ip netns add "$NS-probe" 2>/dev/null && ip netns delete "$NS-probe"
}

trap cleanup EXIT
echo "== $(nproc --all) cores, load average $(load)"
for LAYOUT in ${LAYOUTS:-2x2 4x2}; do
    M=${LAYOUT%x*}
    L=${LAYOUT#*x}
    for TOPOLOGY in $TOPOLOGIES; do
        PORT=$(( PORT + M + L + 1 ))
        LOG="$OUT/$LAYOUT-$TOPOLOGY"
        if [[ $TOPOLOGY == loopback ]]; then
            echo "== $M nodes x $L ranks, loopback, one JVM; load average $(load)"
            "${JAVA[@]}" "$M" "$L" 0 $(( M - 1 )) 127.0.0.1 "$PORT" "$ROUNDS" $SIZES 2>"$LOG.log" \
                || { tail "$LOG.log" >&2; exit 1; }
        elif netns_possible; then
            echo "== $M nodes x $L ranks, one JVM per network namespace; load average $(load)"
            netns_up "$M"
            PIDS=()
            for (( m = 0; m < M; m++ )); do
                # only node 0's JVM prints: it runs rank 0
                ip netns exec "$NS-$m" "${JAVA[@]}" "$M" "$L" "$m" "$m" "$SUBNET.1" "$PORT" "$ROUNDS" $SIZES \
                    2>"$LOG-node$m.log" &
                PIDS+=($!)
            done
            for (( m = 0; m < M; m++ )); do
                wait "${PIDS[$m]}" || { tail "$LOG-node$m.log" >&2; exit 1; }
            done
            # evidence that cross-node bytes left through the interface (whole run: warm-up, both algorithms, barriers)
            for (( m = 0; m < M; m++ )); do
                STATS="/sys/class/net/${NS}v$m/statistics"
                echo "   node $m ${NS}v$m sent $(ip netns exec "$NS-$m" cat "$STATS/tx_bytes") bytes," \
                    "received $(ip netns exec "$NS-$m" cat "$STATS/rx_bytes") bytes"
            done
            cleanup
        else
            echo "== $M nodes x $L ranks, netns: skipped (needs root and ip netns)"
        fi
        echo "== load average after $(load)"
    done
done
