#!/usr/bin/env bash
# Failover benchmark: an active and a standby orchestrator on one PostgreSQL database (steadyrun_bench_failover,
# recreated), NODES registered nodes; then ROUNDS times: SIGKILL the active one and time until the standby answers
# /actuator/health/readiness with 200 (it took the database lock, loaded leases, detectors and directives again and
# serves), then start the killed one again as the new standby. Prints each round and the median and max.
# The target (issue 17) is a median of at most 5 s.
#
#   bench/failover.sh                      # 5 rounds, 500 nodes
#   ROUNDS=9 NODES=1000 bench/failover.sh
#   BENCH_SKIP_BUILD=1 bench/failover.sh   # reuse orchestrator/target/bench/orchestrator-*-exec.jar
# Needs: JDK 17, Maven, curl, psql, PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432, user postgres, trust auth).
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-steadyrun_bench_failover}
ROUNDS=${ROUNDS:-5}
NODES=${NODES:-500}
PORTS=(${BENCH_PORTS:-18091 18092})
JOIN=bench-join-token-0123456789
OUT=bench/out
BUILD=orchestrator/target/bench
mkdir -p "$OUT"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "== building the orchestrator"
    ./mvnw -B -q -pl orchestrator -am package -DskipTests -Dorchestrator.build.dir=target/bench
fi
JAR=$(ls "$BUILD"/orchestrator-*-exec.jar)

declare -A PID
cleanup() { for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start() { # start INDEX: an orchestrator on PORTS[INDEX]
    local port=${PORTS[$1]}
    java -Xmx1g -jar "$JAR" --server.port="$port" \
        --spring.datasource.url="jdbc:postgresql://$PGHOST:$PGPORT/$DB" \
        --steadyrun.security.join-token="$JOIN" >>"$OUT/failover-$port.log" 2>&1 &
    PID[$1]=$!
    for _ in $(seq 1 600); do
        curl -fs "http://127.0.0.1:$port/actuator/health/liveness" >/dev/null 2>&1 && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || { echo "orchestrator on :$port died"; tail -30 "$OUT/failover-$port.log"; exit 1; }
        sleep 0.5
    done
    echo "orchestrator on :$port not live after 300 s"; exit 1
}
ready() { curl -fs -o /dev/null "http://127.0.0.1:${PORTS[$1]}/actuator/health/readiness"; }

psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "drop database if exists $DB with (force)" postgres
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "create database $DB" postgres
start 0
ready 0 || { echo "the first orchestrator is not ready"; exit 1; }
echo "== registering $NODES nodes"
for i in $(seq 1 "$NODES"); do
    curl -fs -o /dev/null -X POST "http://127.0.0.1:${PORTS[0]}/api/v1/agents/register" \
        -H "Authorization: Bearer $JOIN" -H 'Content-Type: application/json' \
        -d "{\"nodeName\":\"bench-$i\",\"hostname\":\"10.0.$((i / 250)).$((i % 250 + 1))\",\"gpus\":[],\"labels\":{},\"agentVersion\":\"bench\"}"
done
start 1
ready 1 && { echo "the standby claims to be ready"; exit 1; }

active=0
times=()
for r in $(seq 1 "$ROUNDS"); do
    standby=$((1 - active))
    kill -9 "${PID[$active]}"; wait "${PID[$active]}" 2>/dev/null || true
    t0=$(date +%s%N)
    until ready "$standby"; do
        [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 60000 ] && { echo "no takeover in 60 s"; exit 1; }
        sleep 0.05
    done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    times+=("$ms")
    echo "round $r: :${PORTS[$standby]} ready ${ms} ms after :${PORTS[$active]} was killed (load $(cut -d' ' -f1 /proc/loadavg))"
    start "$active"   # back as the standby
    ready "$active" && { echo "a restarted orchestrator claims to be ready beside the active one"; exit 1; }
    active=$standby
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "failover over $ROUNDS rounds, $NODES nodes: median ${sorted[$((ROUNDS / 2))]} ms, max ${sorted[$((ROUNDS - 1))]} ms"
