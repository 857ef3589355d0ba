#!/usr/bin/env bash
# Node-loss detection and recovery bench: starts the orchestrator (shipped settings: 1 s heartbeats, 2.5 s lease,
# 250 ms lease sweep) against local PostgreSQL (database steadyrun_bench_recovery, recreated), then runs
# bench/recovery/NodeLossBench.java: per round a fresh 2-rank run with a spare on simulated agents, one agent stops
# beating, and the bench measures with the wall clock when the NODE_LOST incident shows in the API and when the new
# generation trains. Issue 9's targets: detection <= 3 s after the last heartbeat at 1 s beats; detection to the
# first new step <= 20 s (here no checkpoint load: the agents are simulated).
#
#   bench/recovery.sh                       # 5 rounds
#   ROUNDS=10 BENCH_SKIP_BUILD=1 bench/recovery.sh
# Needs: JDK 17, Maven, PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432, user postgres, trust auth), psql.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-steadyrun_bench_recovery}
PORT=${BENCH_PORT:-18097}
JOIN=bench-join-token-0123456789
ADMIN=bench-admin-token-0123456789
OUT=bench/out
BUILD=${BENCH_BUILD_DIR:-target/bench-recovery}
mkdir -p "$OUT"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "== building the orchestrator"
    ./mvnw -B -q -pl protocol,orchestrator package -DskipTests -Dorchestrator.build.dir="$BUILD"
fi
JAR=$(ls orchestrator/"$BUILD"/orchestrator-*-exec.jar)

ORCH=
stop_orchestrator() {
    if [ -n "$ORCH" ]; then kill "$ORCH" 2>/dev/null || true; wait "$ORCH" 2>/dev/null || true; ORCH=; fi
}
trap stop_orchestrator EXIT

if curl -s "http://127.0.0.1:$PORT/" >/dev/null 2>&1; then echo "port $PORT is taken: set BENCH_PORT"; exit 1; fi
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "drop database if exists $DB with (force)" postgres
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "create database $DB" postgres
java -Xmx1g -jar "$JAR" --server.port="$PORT" --management.server.port="$((PORT + 1))" \
    --spring.datasource.url="jdbc:postgresql://$PGHOST:$PGPORT/$DB" \
    --steadyrun.security.join-token="$JOIN" --steadyrun.security.bootstrap-admin-token="$ADMIN" \
    --steadyrun.runs.checkpoint-root=/tmp/steadyrun-bench-recovery >"$OUT/orchestrator-recovery.log" 2>&1 &
ORCH=$!
for _ in $(seq 1 120); do
    if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$ORCH" 2>/dev/null; then echo "orchestrator died:"; tail -50 "$OUT/orchestrator-recovery.log"; exit 1; fi
    sleep 1
done
echo "== machine load before: $(cut -d' ' -f1-3 /proc/loadavg)"
java -Xmx256m bench/recovery/NodeLossBench.java --url "http://127.0.0.1:$PORT" --join-token "$JOIN" \
    --token "$ADMIN" --rounds "${ROUNDS:-5}"
curl -fs "http://127.0.0.1:$((PORT + 1))/actuator/prometheus" | grep -E '^steadyrun_recovery_(detection_latency|time_to_recovery)_seconds_(sum|count)' || true
