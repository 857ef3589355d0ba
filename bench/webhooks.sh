#!/usr/bin/env bash
# Webhook delivery benchmark: starts the orchestrator against local PostgreSQL (database steadyrun_bench_webhooks,
# recreated), subscribes a local receiver to node.cordoned, cordons/uncordons simulated nodes over the real API and
# waits until every event has been delivered. Prints drain throughput, cordon-to-receipt latency percentiles,
# duplicates and per-node order violations, plus the orchestrator's own delivery counters and latency timer.
#
#   bench/webhooks.sh                                  # 20 nodes x 25 cordons, no receiver failures
#   NODES=50 CORDONS=40 FAIL_PERCENT=20 bench/webhooks.sh
#   BACKLOG=1 bench/webhooks.sh                        # receiver down while events pile up: time the drain
#   BENCH_SKIP_BUILD=1 bench/webhooks.sh               # reuse orchestrator/target/bench-webhooks/*-exec.jar
# Needs: JDK 17, Maven, PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432, user postgres, trust auth), psql, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-steadyrun_bench_webhooks}
PORT=${BENCH_PORT:-18081}
NODES=${NODES:-20}
CORDONS=${CORDONS:-25}
FAIL_PERCENT=${FAIL_PERCENT:-0}
JOIN=bench-join-token-0123456789
ADMIN=bench-admin-token-0123456789
OUT=bench/out
BUILD=orchestrator/target/bench-webhooks
mkdir -p "$OUT"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "== building the orchestrator (and protocol)"
    mvn -B -q -pl orchestrator -am package -DskipTests -Dorchestrator.build.dir=target/bench-webhooks
fi
JAR=$(ls "$BUILD"/orchestrator-*-exec.jar)

echo "== fresh database $DB on $PGHOST:$PGPORT"
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "drop database if exists $DB with (force)" postgres
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "create database $DB" postgres

echo "== starting the orchestrator on :$PORT (log: $OUT/orchestrator-webhooks.log)"
# Short backoff (1s, at most 2s) keeps failure and backlog runs short; the receiver runs on loopback.
java -Xmx1g -jar "$JAR" --server.port="$PORT" --management.server.port="$((PORT + 1))" \
    --spring.datasource.url="jdbc:postgresql://$PGHOST:$PGPORT/$DB" \
    --steadyrun.security.join-token="$JOIN" \
    --steadyrun.security.bootstrap-admin-token="$ADMIN" \
    --steadyrun.alerts.secret-key="$(head -c 32 /dev/urandom | base64)" \
    --steadyrun.alerts.allowed-private-cidrs=127.0.0.0/8 \
    --steadyrun.alerts.initial-backoff=1s \
    --steadyrun.alerts.max-backoff=2s \
    --steadyrun.alerts.poll-interval=${POLL_INTERVAL:-200ms} \
    --logging.level.dev.steadyrun.orchestrator=WARN >"$OUT/orchestrator-webhooks.log" 2>&1 &
ORCH=$!
trap 'kill $ORCH 2>/dev/null || true; wait $ORCH 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 $ORCH 2>/dev/null; then echo "orchestrator died:"; tail -50 "$OUT/orchestrator-webhooks.log"; exit 1; fi
    sleep 1
done

echo "== $NODES nodes x $CORDONS cordons, receiver fails ${FAIL_PERCENT}% of requests with 500${BACKLOG:+, down while they happen}"
java -Xmx512m bench/webhooks/WebhookDrain.java --url "http://127.0.0.1:$PORT" --admin-token "$ADMIN" \
    --join-token "$JOIN" --nodes "$NODES" --cordons-per-node "$CORDONS" --fail-percent "$FAIL_PERCENT" \
    --backlog "$([ -n "${BACKLOG:-}" ] && echo true || echo false)" \
    || echo "(ended with missing or out-of-order events: exit $?)"
curl -fs "http://127.0.0.1:$((PORT + 1))/actuator/prometheus" | awk '
    /^steadyrun_webhook_deliveries_total/ {printf "  %s\n", $0}
    /^steadyrun_webhook_delivery_latency_seconds_count/ {c=$2}
    /^steadyrun_webhook_delivery_latency_seconds_sum/ {s=$2}
    /^steadyrun_webhook_delivery_latency_seconds_max/ {m=$2}
    END { if (c > 0) printf "  orchestrator-side HTTP attempt latency: count=%d mean=%.2f ms max(recent)=%.2f ms\n", c, 1000*s/c, 1000*m }'
