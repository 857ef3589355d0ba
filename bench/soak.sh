#!/usr/bin/env bash
# Soak: a simulated fleet of NODES nodes (non-blocking HTTP, a few threads) and one OPT-175B-shaped run of WORLD
# ranks + SPARES spares against the real orchestrator jar on its own PostgreSQL database (steadyrun_soak, recreated),
# with failures injected from a seeded trace model for MINUTES, invariants checked throughout and a goodput report at
# the end (bench/out/soak/report.md, report.json and report.svg). Exits 1 naming each broken invariant. See docs/soak.md.
#
#   bench/soak.sh                                  # 1,024 nodes, 992 + 16, 10 min, seed 1
#   MINUTES=30 SEED=7 bench/soak.sh
#   NODES=1024 MEAN_GAP=15 COMPRESSION=15 bench/soak.sh
#   SOAK_SKIP_BUILD=1 bench/soak.sh                # reuse orchestrator/target/soak and bench/soak/target
#
# Knobs (environment): NODES (1024), WORLD (992), SPARES (16), MINUTES (10), SEED (1), MEAN_GAP (20: soak seconds
# between failures), STEP_SECONDS (1.0: one simulated step), COMPRESSION (15: real seconds per soak second on the
# trainers' step clock; a real OPT-175B step is STEP_SECONDS × COMPRESSION), CHECKPOINT_INTERVAL (50 steps),
# HEARTBEAT (1s: steadyrun.fleet.heartbeat-interval), REPORT_SECONDS (3: how often an agent sends its trainer's lines),
# HUMAN_SECONDS (30: the soak's operator resumes a run paused for a human after this), REPAIR_SECONDS (90),
# P99_LIMIT_MS (50), DRAIN_SECONDS (300), POLICY (ours; baseline: every divergence to a human, no straggler scoring),
# TRACE_CLOCK (false: one failure at a time, while the run trains with no recovery open; true: each at its trace time,
# joining any open recovery),
# SOAK_ARGS (more --key value pairs for dev.steadyrun.soak.Soak). bench/goodput-soak.sh runs both policies.
# Needs: JDK 17, PostgreSQL on PGHOST:PGPORT (127.0.0.1:5432, user postgres, trust auth), psql, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${SOAK_DB:-steadyrun_soak}
PORT=${SOAK_PORT:-18090}
OUT=${SOAK_OUT:-bench/out/soak}
JOIN=soak-join-token-0123456789
ADMIN=soak-admin-token-0123456789abcdef
BUILD=orchestrator/target/soak
mkdir -p "$OUT"

if [ -z "${SOAK_SKIP_BUILD:-}" ]; then
    echo "== building the orchestrator jar ($BUILD) and the soak module"
    ./mvnw -B -o -q -pl orchestrator,bench/soak -am package -DskipTests -Dorchestrator.build.dir=target/soak
fi
JAR=$(ls "$BUILD"/orchestrator-*-exec.jar)
CP="bench/soak/target/classes:$(cat bench/soak/target/classpath.txt)"

ORCH=
stop_orchestrator() {
    if [ -n "$ORCH" ]; then kill "$ORCH" 2>/dev/null || true; wait "$ORCH" 2>/dev/null || true; ORCH=; fi
}
trap stop_orchestrator EXIT

echo "== fresh database $DB, orchestrator on :$PORT (log: $OUT/orchestrator.log); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "drop database if exists $DB with (force)" postgres
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "create database $DB" postgres
# chaos stays off: the soak breaks nodes itself. The receiver is on 127.0.0.1, so that range is allowed for webhooks.
java -Xmx2g ${ORCH_JAVA_OPTS:-} -jar "$JAR" --server.port="$PORT" --management.server.port="$((PORT + 1))" \
    --spring.datasource.url="jdbc:postgresql://$PGHOST:$PGPORT/$DB" \
    --steadyrun.security.join-token="$JOIN" --steadyrun.security.bootstrap-admin-token="$ADMIN" \
    --steadyrun.alerts.secret-key="$(head -c 32 /dev/urandom | base64)" \
    --steadyrun.alerts.allowed-private-cidrs=127.0.0.0/8 \
    --steadyrun.fleet.heartbeat-interval="${HEARTBEAT:-1s}" \
    --steadyrun.fleet.never-reported-grace=30m \
    --logging.level.dev.steadyrun.orchestrator.node=WARN >"$OUT/orchestrator.log" 2>&1 &
ORCH=$!
for i in $(seq 1 300); do
    if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then echo "   ready after ${i} s"; break; fi
    if ! kill -0 "$ORCH" 2>/dev/null; then echo "orchestrator died:"; tail -50 "$OUT/orchestrator.log"; exit 2; fi
    if [ "$i" = 300 ]; then echo "orchestrator not ready in 300 s"; exit 2; fi
    sleep 1
done

STEP=${STEP_SECONDS:-1.0}
REAL_STEP=$(awk -v s="$STEP" -v c="${COMPRESSION:-15}" 'BEGIN { print s * c }')
set +e
java -Xmx1g -cp "$CP" dev.steadyrun.soak.Soak --url "http://127.0.0.1:$PORT" --join-token "$JOIN" \
    --admin-token "$ADMIN" --nodes "${NODES:-1024}" --world "${WORLD:-992}" --spares "${SPARES:-16}" \
    --minutes "${MINUTES:-10}" --seed "${SEED:-1}" --mean-gap-seconds "${MEAN_GAP:-20}" --step-seconds "$STEP" \
    --real-step-seconds "$REAL_STEP" --checkpoint-interval "${CHECKPOINT_INTERVAL:-50}" \
    --report-seconds "${REPORT_SECONDS:-3}" --human-seconds "${HUMAN_SECONDS:-30}" \
    --repair-seconds "${REPAIR_SECONDS:-90}" --p99-limit-ms "${P99_LIMIT_MS:-50}" \
    --drain-seconds "${DRAIN_SECONDS:-300}" --policy "${POLICY:-ours}" --trace-clock "${TRACE_CLOCK:-false}" --server-pid "$ORCH" \
    --metrics-url "http://127.0.0.1:$((PORT + 1))/actuator/prometheus" --out "$OUT" ${SOAK_ARGS:-}
STATUS=$?
set -e
echo "== PostgreSQL: $(psql -h "$PGHOST" -p "$PGPORT" -U postgres -At -c "select 'database ' || pg_size_pretty(pg_database_size('$DB')) || ', run_metric rows ' || (select count(*) from run_metric)" "$DB" 2>/dev/null || echo unknown)"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg); orchestrator log: $OUT/orchestrator.log"
exit $STATUS
