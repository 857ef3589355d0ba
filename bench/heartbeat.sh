#!/usr/bin/env bash
# Heartbeat benchmark: starts the orchestrator against local PostgreSQL (database steadyrun_bench, recreated),
# registers simulated nodes over real HTTP and drives each at the heartbeat interval the orchestrator hands out
# (1 s while the fleet is within steadyrun.fleet.max-heartbeats-per-second, default 1,500/s; longer beyond, so
# 10,000 nodes are told 6.7 s): first 1,000 nodes, then 10,000, each phase on a fresh database and orchestrator.
# Each phase first sends every node's first heartbeat (it moves the node REGISTERED -> HEALTHY, one transaction
# each), then warm-up rounds of at least WARMUP_SECONDS (10) and two intervals (cold JIT), unmeasured, until a round
# runs on schedule, then measures SECONDS_PER_PHASE (30). Prints throughput, errors, p50/p99/max latency, the orchestrator's
# CPU time per heartbeat (the figure that does not depend on how busy the machine is), the interval in force,
# and its own heartbeat timer. The orchestrator runs with its shipped settings (application.yml).
# The generator runs on the same machine: on a small or shared machine it competes with the server for CPU.
#
#   bench/heartbeat.sh                       # both phases, 30 s each
#   SECONDS_PER_PHASE=60 PHASES="1000" bench/heartbeat.sh
#   BENCH_SKIP_BUILD=1 bench/heartbeat.sh    # reuse orchestrator/target/bench/orchestrator-*-exec.jar
#   BUDGET=1000 bench/heartbeat.sh          # another steadyrun.fleet.max-heartbeats-per-second
#   ORCH_JAVA_OPTS="-XX:StartFlightRecording=filename=bench/out/hb.jfr,settings=profile" bench/heartbeat.sh
# Needs: JDK 17, Maven, PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432, user postgres, trust auth), psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-steadyrun_bench}
PORT=${BENCH_PORT:-18080}
PHASES=${PHASES:-"1000 10000"}
SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-30}
JOIN=bench-join-token-0123456789
OUT=bench/out
BUILD=orchestrator/target/bench
mkdir -p "$OUT"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "== building the orchestrator (protocol comes from the local repository: mvn -pl protocol install)"
    mvn -B -q -f orchestrator/pom.xml package -DskipTests -Dorchestrator.build.dir=target/bench
fi
JAR=$(ls "$BUILD"/orchestrator-*-exec.jar)

ORCH=
stop_orchestrator() {
    if [ -n "$ORCH" ]; then kill "$ORCH" 2>/dev/null || true; wait "$ORCH" 2>/dev/null || true; ORCH=; fi
}
trap stop_orchestrator EXIT

# Each phase gets a fresh database and orchestrator, so the fleet is exactly N nodes (no silent nodes of the
# previous phase counting towards the fleet size or failing while the next fleet registers). The generator
# registers every node before the first beats (a real agent beats right after registering), so the first-report
# grace is raised: registering 10,000 nodes must not run past it.
start_orchestrator() {
    echo "== fresh database $DB on $PGHOST:$PGPORT, orchestrator on :$PORT (log: $OUT/orchestrator-$1.log)"
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "drop database if exists $DB with (force)" postgres
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "create database $DB" postgres
    java -Xmx1g ${ORCH_JAVA_OPTS:-} -jar "$JAR" --server.port="$PORT" --management.server.port="$((PORT + 1))" \
        --spring.datasource.url="jdbc:postgresql://$PGHOST:$PGPORT/$DB" \
        --steadyrun.security.join-token="$JOIN" \
        --steadyrun.fleet.never-reported-grace=30m \
        ${BUDGET:+--steadyrun.fleet.max-heartbeats-per-second=$BUDGET} \
        --logging.level.dev.steadyrun.orchestrator.node=WARN >"$OUT/orchestrator-$1.log" 2>&1 &
    ORCH=$!
    for _ in $(seq 1 120); do
        if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$ORCH" 2>/dev/null; then echo "orchestrator died:"; tail -50 "$OUT/orchestrator-$1.log"; exit 1; fi
        sleep 1
    done
    echo "orchestrator did not become healthy in 120 s"; exit 1
}

for N in $PHASES; do
    start_orchestrator "$N"
    echo "== $N nodes at the interval the orchestrator hands out, ${SECONDS_PER_PHASE} s (machine load before: $(cut -d' ' -f1-3 /proc/loadavg))"
    java -Xmx1g bench/heartbeat/HeartbeatLoad.java --url "http://127.0.0.1:$PORT" --join-token "$JOIN" \
        --nodes "$N" --seconds "$SECONDS_PER_PHASE" --warmup-seconds "${WARMUP_SECONDS:-10}" --server-pid "$ORCH" \
        || echo "(phase ended with errors: exit $?)"
    curl -fs "http://127.0.0.1:$((PORT + 1))/actuator/prometheus" | awk '
        /^steadyrun_heartbeat_latency_seconds_count/ {c=$2}
        /^steadyrun_heartbeat_latency_seconds_sum/ {s=$2}
        /^steadyrun_heartbeat_latency_seconds_max/ {m=$2}
        /^steadyrun_nodes\{/ {printf "  %s\n", $0}
        END { if (c > 0) printf "  orchestrator-side heartbeat handling (cumulative, warm-up included): count=%d mean=%.3f ms max(recent)=%.3f ms\n", c, 1000*s/c, 1000*m }'
    stop_orchestrator
done
