#!/usr/bin/env bash
# Live-log latency: how long a trainer's log line takes to reach a follower of GET /api/v1/runs/{id}/logs?follow=true
# (issue 20's target: under 2 s). Real processes: the orchestrator (Boot jar) on a fresh PostgreSQL database, one real
# agent (its shipped settings: report-flush 500 ms) whose "trainer" is a shell script printing "bench-line SEQ
# EPOCH_NANOS" to stderr every INTERVAL_MS, and a reader (bench/logs/LogLatency.java) following the log as
# server-sent events; each line's latency is the reader's clock minus the time printed (one machine, one clock).
# Prints p50/p95/p99/max over LINES lines.
#
#   bench/logs.sh                      # 200 lines, one every 100 ms
#   LINES=600 INTERVAL_MS=20 bench/logs.sh
#   BENCH_SKIP_BUILD=1 bench/logs.sh   # reuse the jars under orchestrator/target and worker-agent/target
# Needs: JDK 17, PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), psql, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

DB=${BENCH_DB:-steadyrun_bench_logs}
PORT=${BENCH_PORT:-18090}
LINES=${LINES:-200}
INTERVAL_MS=${INTERVAL_MS:-100}
JOIN=bench-join-token-0123456789
ADMIN=bench-admin-token-0123456789
OUT=bench/out/logs
rm -rf "$OUT" && mkdir -p "$OUT"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "== building the orchestrator and the agent"
    ./mvnw -B -q -pl orchestrator,worker-agent -am package -DskipTests
fi
ORCH_JAR=$(ls orchestrator/target/orchestrator-*-exec.jar)
AGENT_JAR=$(ls worker-agent/target/worker-agent-*.jar | grep -v -- '-tests\|-sources' | head -1)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

psql -h 127.0.0.1 -U postgres -q -c "drop database if exists $DB with (force)" postgres
psql -h 127.0.0.1 -U postgres -q -c "create database $DB" postgres
java -Xmx512m -jar "$ORCH_JAR" --server.port="$PORT" --management.server.port="$((PORT + 1))" \
    --spring.datasource.url="jdbc:postgresql://127.0.0.1:5432/$DB" \
    --steadyrun.security.join-token="$JOIN" --steadyrun.security.bootstrap-admin-token="$ADMIN" \
    >"$OUT/orchestrator.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 180); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 1; done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "orchestrator not ready"; tail -30 "$OUT/orchestrator.log"; exit 1; }

# the "trainer": ignores the agent's arguments, prints a numbered, timestamped line every INTERVAL_MS, then waits
cat >"$OUT/trainer.sh" <<SCRIPT
i=0
while [ \$i -lt $((LINES + 20)) ]; do
  echo "bench-line \$i \$(date +%s%N)" >&2
  i=\$((i+1))
  sleep $(awk "BEGIN {print $INTERVAL_MS / 1000}")
done
sleep 600
SCRIPT
java -Xmx256m -jar "$AGENT_JAR" --url "http://127.0.0.1:$PORT" --join-token "$JOIN" --node-name bench-logs-0 \
    --labels rack=bench-logs --state-dir "$OUT/agent-state" --checkpoint-root "$OUT/checkpoints" \
    --trainer-command "/bin/sh $OUT/trainer.sh" >"$OUT/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do # the run is refused (422) until the node is HEALTHY
    curl -fsS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/api/v1/nodes" 2>/dev/null | grep -q HEALTHY && break
    sleep 1
done
run=$(curl -fsS -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"name":"bench logs","model":{"size":"tiny"},"data":{"sample":"europarl"},"worldSize":1,"nodeSelector":{"rack":"bench-logs"}}' \
    "http://127.0.0.1:$PORT/api/v1/runs" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
echo "== run $run: following its log for $LINES lines printed every $INTERVAL_MS ms (load: $(cut -d' ' -f1-3 /proc/loadavg))"
# the reader starts before the trainer does (placement takes a scheduling pass), so it sees every line live
java bench/logs/LogLatency.java "http://127.0.0.1:$PORT" "$ADMIN" "$run" "$LINES"
