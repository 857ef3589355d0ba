#!/usr/bin/env bash
# Load benchmark of the agent protocol path: N simulated agents (the SimulatedFleet test tool: fake GPUs,
# synthetic trainers, but the agent's real lease/report code) against a real orchestrator with real PostgreSQL.
# Prints, every 5 s, how many nodes are registered and the heartbeats per second the orchestrator answered;
# the target is NODES / heartbeat-interval beats per second.
#
#   bench/agent/fleet-load.sh                 # 1000 nodes, 1 s heartbeats, 60 s
#   NODES=2000 SECONDS_TO_RUN=120 bench/agent/fleet-load.sh
#
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), and `mvn -pl orchestrator,worker-agent install
# -DskipTests` done (the orchestrator Boot jar and the agent's test classpath come from the local repository).
set -euo pipefail
NODES=${NODES:-1000}
SECONDS_TO_RUN=${SECONDS_TO_RUN:-60}
HEARTBEAT_MS=${HEARTBEAT_MS:-1000}
THREADS=${THREADS:-64}
RAMP=${RAMP:-10}
PORT=${PORT:-18190}
DB=${DB:-steadyrun_agent_bench}
TOKEN=bench-join-token-0123456789
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/bench/out/agent
mkdir -p "$out"

cd "$root"
mvn -B -q -o -pl worker-agent dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$out/cp.txt"
cp="$root/worker-agent/target/classes:$(cat "$out/cp.txt")"
jar=$(tr ':' '\n' < "$out/cp.txt" | grep -- 'orchestrator-.*-exec\.jar$')

psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres
java -Xmx2g -jar "$jar" --server.port="$PORT" --management.server.port="$((PORT + 1))" \
  --spring.datasource.url="jdbc:postgresql://127.0.0.1:5432/$DB" \
  --steadyrun.security.join-token="$TOKEN" --steadyrun.security.bootstrap-admin-token=bench-admin-0123456789 \
  --steadyrun.fleet.heartbeat-interval="${HEARTBEAT_MS}ms" > "$out/orchestrator.log" 2>&1 &
orch=$!
trap 'kill $orch 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; do
  kill -0 $orch 2>/dev/null || { echo "orchestrator died, see $out/orchestrator.log"; exit 1; }
  sleep 1
done

cat > "$out/scenario.json" <<'JSON'
{"stepMillis": 1000, "maxSteps": 1000000, "checkpointEvery": 100, "tokensPerStep": 524288,
 "loss": {"initial": 10.8, "floor": 2.2, "halfLifeSteps": 2000, "noise": 0.02}}
JSON
echo "nodes=$NODES heartbeat=${HEARTBEAT_MS}ms threads=$THREADS target=$(( NODES * 1000 / HEARTBEAT_MS )) beats/s"
java -Xmx1g -cp "$cp" dev.steadyrun.agent.sim.SimulatedFleet --url "http://127.0.0.1:$PORT" --join-token "$TOKEN" \
  --nodes "$NODES" --scenario "$out/scenario.json" --threads "$THREADS" --ramp-seconds "$RAMP" --seconds "$SECONDS_TO_RUN"
