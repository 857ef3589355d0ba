#!/usr/bin/env bash
# Web UI benchmark: starts the orchestrator (which serves the UI) against local PostgreSQL (database
# steadyrun_bench_ui, recreated), seeds 1,000 nodes and one run with 100,000 steps of metrics over the real HTTP API
# (bench/ui/seed.mjs), then opens the fleet and run pages in Debian's headless Chromium through chromedriver
# (bench/ui/measure.mjs) and prints how long each takes to draw, the API calls it made (the run page asks for
# metrics?maxPoints=500, so the server sends at most 500 points however long the run), the longest main-thread
# task while the page keeps polling, and the cost of one fleet filter change. Figures only; nothing is asserted.
# Nodes heartbeat once and the lease is set to an hour, so the fleet stays as seeded while the pages are measured.
#
#   bench/ui.sh
#   NODES=5000 POINTS=100000 REPEATS=10 bench/ui.sh
#   BENCH_SKIP_BUILD=1 bench/ui.sh          # reuse orchestrator/target/bench-ui/orchestrator-*-exec.jar
#   JAR=path/to/orchestrator-exec.jar bench/ui.sh
# Needs: JDK 17, Maven, Node 20+, PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432, user postgres, trust auth),
# psql, curl, /usr/bin/chromium and /usr/bin/chromedriver (apt-get install -y chromium chromium-driver).
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-steadyrun_bench_ui}
PORT=${BENCH_PORT:-18083}
DRIVER_PORT=${DRIVER_PORT:-19515}
NODES=${NODES:-1000}
POINTS=${POINTS:-100000}
REPEATS=${REPEATS:-5}
JOIN=bench-join-token-0123456789
ADMIN=bench-admin-token-0123456789
OUT=bench/out
mkdir -p "$OUT"

for tool in node psql curl /usr/bin/chromium /usr/bin/chromedriver; do
    command -v "$tool" >/dev/null || { echo "bench/ui.sh needs $tool"; exit 1; }
done

if [ -z "${JAR:-}" ]; then
    if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
        echo "== building the web UI and the orchestrator that serves it"
        ./mvnw -B -q -pl protocol,web-ui,orchestrator package -DskipTests -Dorchestrator.build.dir=target/bench-ui
    fi
    JAR=$(ls orchestrator/target/bench-ui/orchestrator-*-exec.jar)
fi

PIDS=()
stop_all() {
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; wait "${PIDS[i]}" 2>/dev/null || true; done
}
trap stop_all EXIT

echo "== fresh database $DB on $PGHOST:$PGPORT, orchestrator on :$PORT (log: $OUT/orchestrator-ui.log)"
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "drop database if exists $DB with (force)" postgres
psql -h "$PGHOST" -p "$PGPORT" -U postgres -q -c "create database $DB" postgres
java -Xmx1g ${ORCH_JAVA_OPTS:-} -jar "$JAR" --server.port="$PORT" --management.server.port="$((PORT + 1))" \
    --spring.datasource.url="jdbc:postgresql://$PGHOST:$PGPORT/$DB" \
    --steadyrun.security.join-token="$JOIN" --steadyrun.security.bootstrap-admin-token="$ADMIN" \
    --steadyrun.fleet.lease-duration=1h --steadyrun.fleet.quiet-grace=1h --steadyrun.fleet.never-reported-grace=1h \
    --logging.level.dev.steadyrun=WARN >"$OUT/orchestrator-ui.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 120); do
    if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${PIDS[0]}" 2>/dev/null; then echo "orchestrator died:"; tail -50 "$OUT/orchestrator-ui.log"; exit 1; fi
    sleep 1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "orchestrator did not become healthy"; exit 1; }

echo "== seeding $NODES nodes and a run with $POINTS steps of metrics"
node bench/ui/seed.mjs --url "http://127.0.0.1:$PORT" --join "$JOIN" --admin "$ADMIN" \
    --nodes "$NODES" --points "$POINTS" >"$OUT/ui-seed.txt"
cat "$OUT/ui-seed.txt"
RUN_ID=$(tail -1 "$OUT/ui-seed.txt")

/usr/bin/chromedriver --port="$DRIVER_PORT" >"$OUT/chromedriver-ui.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null 2>&1 && break; sleep 0.2; done

echo "== headless Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), $REPEATS loads per page (machine load before: $(cut -d' ' -f1-3 /proc/loadavg))"
node bench/ui/measure.mjs --url "http://127.0.0.1:$PORT" --driver "http://127.0.0.1:$DRIVER_PORT" --token "$ADMIN" \
    --run "$RUN_ID" --nodes "$NODES" --repeats "$REPEATS"
