#!/usr/bin/env bash
# Runs the whole system on this machine: the orchestrator, local worker agents (one of them kept as a spare)
# and a small OPT model training on the Europarl sample, then follows the run until you press Ctrl-C.
#
#   AGENTS=4 PORT=8080 MODEL=demo ./scripts/local-cluster.sh
#
# Logs and checkpoints go to runs/local/ (orchestrator.log, agent-N.log, checkpoints/).
set -euo pipefail
cd "$(dirname "$0")/.."

AGENTS=${AGENTS:-4}
PORT=${PORT:-8080}
MODEL=${MODEL:-demo}
WORK=${WORK:-$PWD/runs/local}
JOIN_TOKEN=${STEADYRUN_JOIN_TOKEN:-local-join-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}
ADMIN_TOKEN=${STEADYRUN_BOOTSTRAP_ADMIN_TOKEN:-local-admin-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}
URL=http://127.0.0.1:$PORT
VERSION=0.1.0-SNAPSHOT
ORCH_JAR=orchestrator/target/orchestrator-$VERSION-exec.jar
AGENT_JAR=worker-agent/target/worker-agent-$VERSION.jar
TRAINER_JAR=trainer-engine/target/trainer-engine-$VERSION.jar

command -v curl >/dev/null || { echo "curl is needed to talk to the orchestrator (apt-get install curl)"; exit 1; }

if [ ! -f "$ORCH_JAR" ] || [ ! -f "$AGENT_JAR" ] || [ ! -f "$TRAINER_JAR" ]; then
  echo "Building (first run only)…"
  ./mvnw -B -q install -DskipTests
fi

mkdir -p "$WORK/checkpoints"
api() { curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
pids=()
run_id=""
cleanup() {
  echo
  if [ -n "$run_id" ]; then
    # Cancel the demo run, or the next start of this script would find it still placed and train it beside the new one.
    echo "Cancelling run $run_id…"
    api -X POST "$URL/api/v1/runs/$run_id/cancel" >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do
      api "$URL/api/v1/runs/$run_id" 2>/dev/null | grep -q '"state":"CANCELLED"' && break
      sleep 1
    done
  fi
  echo "Stopping agents and orchestrator…"
  # Agents first (each stops its trainer), the orchestrator last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "Orchestrator on $URL (log: $WORK/orchestrator.log)"
# setsid: Ctrl-C reaches only this script, whose cleanup cancels the run before stopping the processes in order.
STEADYRUN_JOIN_TOKEN=$JOIN_TOKEN STEADYRUN_BOOTSTRAP_ADMIN_TOKEN=$ADMIN_TOKEN \
  setsid java -jar "$ORCH_JAR" --spring.profiles.active=local --server.port="$PORT" >"$WORK/orchestrator.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fs "$URL/actuator/health" >/dev/null 2>&1 && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "The orchestrator stopped; the end of its log:"; tail -n 30 "$WORK/orchestrator.log"; exit 1
  fi
  sleep 1
done
curl -fs "$URL/actuator/health" >/dev/null || { echo "The orchestrator did not become healthy"; exit 1; }

for i in $(seq 0 $((AGENTS - 1))); do
  STEADYRUN_JOIN_TOKEN=$JOIN_TOKEN setsid java -jar "$AGENT_JAR" --url "$URL" --node-name "local-$i" \
    --labels "rack=r$((i / 2)),zone=local" --checkpoint-root "$WORK/checkpoints" \
    --trainer-command "java -jar $PWD/$TRAINER_JAR" >"$WORK/agent-$i.log" 2>&1 &
  pids+=($!)
done
echo "$AGENTS agents started (logs: $WORK/agent-N.log)"

# Wait until the agents are HEALTHY, then submit one run with a spare.
for _ in $(seq 1 60); do
  healthy=$(api "$URL/api/v1/nodes?state=HEALTHY&size=200" | grep -o '"state":"HEALTHY"' | wc -l || true)
  [ "$healthy" -ge "$AGENTS" ] && break
  sleep 1
done
run=$(api -X POST "$URL/api/v1/runs" -d "{
  \"name\": \"local-$MODEL-europarl\",
  \"model\": {\"size\": \"$MODEL\"},
  \"data\": {\"sample\": \"europarl\"},
  \"worldSize\": 1,
  \"spares\": 1,
  \"checkpointInterval\": 50,
  \"checkpointLocation\": \"$WORK/checkpoints\"
}")
run_id=$(printf '%s' "$run" | sed -E 's/.*"id":"([^"]+)".*/\1/')
echo "Run $run_id submitted."
echo "Dashboard: $URL/  (sign in with the admin token $ADMIN_TOKEN)"
echo "Following the run; Ctrl-C stops everything."
last=""
while true; do
  line=$(api "$URL/api/v1/runs/$run_id" | tr ',' '\n' | grep -E '"(state|lastStep|lastLoss|generation|tokensSeen)"' \
    | tr -d '"{}' | tr '\n' ' ')
  if [ "$line" != "$last" ]; then echo "$(date +%T) $line"; last=$line; fi
  sleep 2
done
