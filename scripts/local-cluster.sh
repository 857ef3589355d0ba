#!/usr/bin/env bash
# Runs the whole system on this machine: the orchestrator, local worker agents (the one beyond the run's ranks
# kept as a spare) and a small OPT model training on the Europarl sample in emulated FP16 with the dynamic loss
# scaler and automatic recovery on, then follows the run until you press Ctrl-C. The orchestrator listens on
# 127.0.0.1 only and has its chaos API on: the script prints the `steadyrun chaos ...` commands (and the by-hand
# ways: kill an agent, inject a GPU fault) so you can watch the orchestrator handle each failure in the dashboard.
# Nodes an earlier session left failed or cordoned are readmitted, and a run it left behind is cancelled.
#
#   AGENTS=4 WORLD_SIZE=3 PORT=8080 MODEL=tiny CHECKPOINT_INTERVAL=10 ./scripts/local-cluster.sh
#
# Logs and checkpoints go to runs/local/ (orchestrator.log, agent-N.log, trainer-logs/, checkpoints/).
set -euo pipefail
cd "$(dirname "$0")/.."

AGENTS=${AGENTS:-4}
WORLD_SIZE=${WORLD_SIZE:-3}
PORT=${PORT:-8080}
MODEL=${MODEL:-tiny}
CHECKPOINT_INTERVAL=${CHECKPOINT_INTERVAL:-10}
# The global batch must split into whole sequences per rank: 4 sequences per rank and step by default.
case "$MODEL" in tiny) SEQ_LEN=128 ;; demo) SEQ_LEN=256 ;; *) SEQ_LEN=2048 ;; esac
BATCH_TOKENS=${BATCH_TOKENS:-$((WORLD_SIZE * 4 * SEQ_LEN))}
WORK=${WORK:-$PWD/runs/local}
JOIN_TOKEN=${STEADYRUN_JOIN_TOKEN:-local-join-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}
ADMIN_TOKEN=${STEADYRUN_BOOTSTRAP_ADMIN_TOKEN:-local-admin-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}
URL=http://127.0.0.1:$PORT
VERSION=0.1.0-SNAPSHOT
ORCH_JAR=orchestrator/target/orchestrator-$VERSION-exec.jar
AGENT_JAR=worker-agent/target/worker-agent-$VERSION.jar
TRAINER_JAR=trainer-engine/target/trainer-engine-$VERSION.jar
CLI_JAR=cli/target/steadyrun.jar

command -v curl >/dev/null || { echo "curl is needed to talk to the orchestrator (apt-get install curl)"; exit 1; }
if [ "$AGENTS" -le "$WORLD_SIZE" ]; then
  echo "AGENTS ($AGENTS) must exceed WORLD_SIZE ($WORLD_SIZE): one agent is the run's spare"; exit 1
fi
# Every trainer gets its share of the cores rather than all of them (ND4J would start one thread per core in each).
CORES=$(nproc 2>/dev/null || echo 2)
THREADS=$(( CORES / WORLD_SIZE > 0 ? CORES / WORLD_SIZE : 1 ))
# Without nvidia-smi the agents report one simulated GPU each, so a GPU fault can be injected (see below).
FAKE_GPUS=0
command -v nvidia-smi >/dev/null || FAKE_GPUS=1

# Build on the first run, and again whenever a source is newer than the jars (a stale agent refuses new options).
stale() {
  for jar in "$ORCH_JAR" "$AGENT_JAR" "$TRAINER_JAR" "$CLI_JAR"; do
    [ -f "$jar" ] || return 0
    [ -z "$(find protocol/src orchestrator/src worker-agent/src trainer-engine/src cli/src web-ui/src sql -newer "$jar" -type f \
      -print -quit)" ] || return 0
  done
  return 1
}
if stale; then
  echo "Building the jars…"
  ./mvnw -B -q install -DskipTests
fi

mkdir -p "$WORK/checkpoints"
# Memory snapshots (docs/recovery.md): every 10 steps each rank keeps its shard in memory and sends a copy to its ring
# successor, so a lost node's ranks restart from the newest snapshot, not the last checkpoint. Each agent has its own
# directory, as each node has its own memory: in /dev/shm (RAM) where there is one. Removed when the script stops.
SNAPSHOTS=${SNAPSHOTS:-$(if [ -d /dev/shm ] && [ -w /dev/shm ]; then echo "/dev/shm/steadyrun-local-$(id -u)"; \
  else echo "$WORK/snapshots"; fi)}
mkdir -p "$SNAPSHOTS" && chmod 700 "$SNAPSHOTS"
# One API call: the answer on stdout; a refusal prints the orchestrator's problem detail (RFC 9457: which field,
# what is wrong) on stderr and fails, so a caller under `set -e` stops with the reason rather than a bare status.
api() {
  local answer status
  answer=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    "$@") || { echo "The orchestrator at $URL did not answer (see $WORK/orchestrator.log)" >&2; return 1; }
  status=${answer##*$'\n'}
  answer=${answer%$'\n'*}
  if [ "$status" -ge 400 ]; then
    echo "The orchestrator refused a request (HTTP $status): $answer" >&2
    return 1
  fi
  printf '%s' "$answer"
}
pids=()
run_id=""
cleanup() {
  trap '' INT TERM # a second Ctrl-C must not cut the orderly stop short and leave the processes running
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
  # Agents first (each stops its trainer; an agent started again by hand is found by its pid file), the
  # orchestrator last.
  agent_pids=()
  for f in "$WORK"/agent-*.pid; do [ -f "$f" ] && agent_pids+=("$(cat "$f")") && rm -f "$f"; done
  for p in ${agent_pids[@]+"${agent_pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  # each agent stops its trainer within the stop grace (10 s); after 30 s it is killed
  for p in ${agent_pids[@]+"${agent_pids[@]}"}; do
    for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$SNAPSHOTS" # memory: a node that stops loses its snapshots
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "Orchestrator on $URL (log: $WORK/orchestrator.log)"
# setsid: Ctrl-C reaches only this script, whose cleanup cancels the run before stopping the processes in order.
# Bound to 127.0.0.1 only, as the chaos API (a test tool that lets an admin break runs) is on for the demo.
STEADYRUN_JOIN_TOKEN=$JOIN_TOKEN STEADYRUN_BOOTSTRAP_ADMIN_TOKEN=$ADMIN_TOKEN \
  setsid java -jar "$ORCH_JAR" --spring.profiles.active=local --server.address=127.0.0.1 --server.port="$PORT" \
  --management.server.address=127.0.0.1 --management.server.port="$((PORT + 1))" --steadyrun.chaos.enabled=true \
  >"$WORK/orchestrator.log" 2>&1 &
pids+=($!)
# (up to 5 min while it is alive: on a busy 2-core machine its start alone has taken close to 3)
for _ in $(seq 1 300); do
  curl -fs "$URL/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "The orchestrator stopped; the end of its log:"; tail -n 30 "$WORK/orchestrator.log"; exit 1
  fi
  sleep 1
done
curl -fs "$URL/readyz" >/dev/null || { echo "The orchestrator did not become ready within 5 minutes; see $WORK/orchestrator.log"; exit 1; }

# Each agent keeps its node credential in $WORK/agent-state: a restarted agent re-joins its node only with it. A node
# left in the database by an earlier session whose credential file is gone is re-keyed here (an admin's right), and
# the new credential written where its agent reads it.
mkdir -p "$WORK/agent-state" && chmod 700 "$WORK/agent-state"
for i in $(seq 0 $((AGENTS - 1))); do
  cred="$WORK/agent-state/local-$i.credential"
  [ -s "$cred" ] && continue
  id=$(api "$URL/api/v1/nodes?size=500" | grep -o "\"id\":\"[^\"]*\",\"name\":\"local-$i\"" | cut -d'"' -f4 || true)
  if [ -n "$id" ]; then
    (umask 077; api -X POST "$URL/api/v1/nodes/$id/rekey" | sed -E 's/.*"nodeCredential":"([^"]+)".*/\1/' >"$cred")
    echo "Re-keyed node local-$i (its credential file was missing)"
  fi
done

# A session that ended badly (a node killed or failed on purpose, a script killed without its Ctrl-C stop) leaves its
# state in the database: its nodes FAILED or CORDONED, its run still placed. Start clean: cancel a demo run still
# active and readmit this script's nodes (an admin's uncordon: each is HEALTHY again at its agent's next heartbeat).
for state in PENDING STARTING RUNNING RECOVERING PAUSING PAUSED; do
  for old in $(api "$URL/api/v1/runs?state=$state&size=200" \
      | grep -o '"id":"[^"]*","name":"local-[^"]*-europarl"' | cut -d'"' -f4); do
    api -X POST "$URL/api/v1/runs/$old/cancel" >/dev/null && echo "Cancelled run $old, left $state by an earlier session"
  done
done
# Readmits this script's nodes that are FAILED, CORDONED or DRAINING. Again while the agents start: a node that was
# only SUSPECT at the first call fails once its lease and grace run out before its agent's first heartbeat.
readmit() {
  local state i id
  for state in FAILED CORDONED DRAINING; do
    for i in $(seq 0 $((AGENTS - 1))); do
      id=$(api "$URL/api/v1/nodes?state=$state&size=500" | grep -o "\"id\":\"[^\"]*\",\"name\":\"local-$i\"" \
        | cut -d'"' -f4 || true)
      if [ -n "$id" ]; then
        api -X POST "$URL/api/v1/nodes/$id/uncordon" -d '{"reason":"local cluster started again"}' >/dev/null \
          && echo "Readmitted node local-$i ($state in an earlier session)"
      fi
    done
  done
}
readmit

# Each agent's command goes into start-agent-N.sh, so a killed agent can be started again by hand.
for i in $(seq 0 $((AGENTS - 1))); do
  # --advertise-host: all agents share this machine, so the ranks meet on the loopback address.
  cat >"$WORK/start-agent-$i.sh" <<EOF
#!/bin/sh
STEADYRUN_JOIN_TOKEN=$JOIN_TOKEN OMP_NUM_THREADS=$THREADS STEADYRUN_SNAPSHOT_ROOT=$SNAPSHOTS/local-$i \\
  setsid java -jar "$PWD/$AGENT_JAR" --url "$URL" \\
  --node-name "local-$i" --advertise-host 127.0.0.1 --labels "rack=r$((i / 2)),zone=local" \\
  --checkpoint-root "$WORK/checkpoints" --state-dir "$WORK/agent-state" --trainer-log-dir "$WORK/trainer-logs" \\
  --stop-grace 10s \\
  --fake-gpus "$FAKE_GPUS" --fault-file "$WORK/fault-local-$i" \\
  --trainer-command "java -Xmx1g -jar $PWD/$TRAINER_JAR" >>"$WORK/agent-$i.log" 2>&1 &
echo \$! >"$WORK/agent-$i.pid"
EOF
  sh "$WORK/start-agent-$i.sh"
done
echo "$AGENTS agents started (logs: $WORK/agent-N.log)"

# Wait until the agents are HEALTHY, then submit one run with a spare.
# (up to 3 min: on a busy 2-core machine four agent JVMs beside the orchestrator can take more than one)
for t in $(seq 1 180); do
  healthy=$(api "$URL/api/v1/nodes?state=HEALTHY&size=200" | grep -o '"state":"HEALTHY"' | wc -l || true)
  [ "$healthy" -ge "$AGENTS" ] && break
  [ $((t % 5)) -eq 0 ] && readmit
  sleep 1
done
if [ "$healthy" -lt "$AGENTS" ]; then
  echo "Only $healthy of $AGENTS agents became HEALTHY within 3 minutes; see $WORK/agent-N.log"
  exit 1
fi
run=$(api -X POST "$URL/api/v1/runs" -d "{
  \"name\": \"local-$MODEL-europarl\",
  \"model\": {\"size\": \"$MODEL\"},
  \"data\": {\"sample\": \"europarl\"},
  \"hyper\": {\"batchTokens\": $BATCH_TOKENS, \"precision\": \"fp16-emulated\"},
  \"worldSize\": $WORLD_SIZE,
  \"spares\": 1,
  \"checkpointInterval\": $CHECKPOINT_INTERVAL,
  \"checkpointLocation\": \"$WORK/checkpoints\",
  \"recoveryPolicy\": {\"backoffInitial\": \"PT2S\", \"backoffMax\": \"PT1M\", \"rollbackMarginSteps\": 20,
    \"divergenceLadder\": [{\"resetLossScaler\": true, \"lrMultiplier\": 0.9, \"clipNorm\": 0.3},
                         {\"resetLossScaler\": true, \"lrMultiplier\": 0.9, \"clipNorm\": 0.3, \"skipBatches\": 200}]}
}")
run_id=$(printf '%s' "$run" | sed -E 's/.*"id":"([^"]+)".*/\1/')
echo "Run $run_id submitted."
echo "Dashboard: $URL/  (sign in with the admin token $ADMIN_TOKEN)"
cat <<EOF

Break something and watch the run's incidents (the dashboard, or the CLI below). With the steadyrun CLI (cli/steadyrun):
  export STEADYRUN_URL=$URL STEADYRUN_TOKEN=$ADMIN_TOKEN RUN=$run_id
  cli/steadyrun run watch \$RUN                     a line per step, each incident as it happens
  cli/steadyrun chaos kill-node \$RUN --rank 1      the agent and its trainer die: the spare takes rank 1
  cli/steadyrun chaos gpu-fault \$RUN --rank 1      XID 79 on its GPU: the node is failed and swapped
  cli/steadyrun chaos diverge \$RUN                 the loss scale collapses, then the loss spikes: rolled back to the
                                                    last checkpoint with loss scale >= 1.0 before the onset, LR x0.9,
                                                    clipping 0.3
  cli/steadyrun chaos straggle \$RUN --rank 2       rank 2 takes three times as long per step
  cli/steadyrun chaos hang \$RUN                    the step loop stops: found after the hang floor (10 min by default)
  cli/steadyrun chaos corrupt-checkpoint \$RUN      the newest checkpoint fails its checksum at the next restore
By hand:
  lose a node:       kill -9 \$(cat $WORK/agent-1.pid)        (its trainer dies with it; the spare, usually local-$((AGENTS - 1)), takes its rank)
  GPU falls off:     echo 'xid 79 gpu=0' > $WORK/fault-local-1   (the node is failed and swapped)
  bring a node back: sh $WORK/start-agent-1.sh   (a killed agent), then uncordon local-1 (cli/steadyrun node uncordon local-1)
Checkpoints come every $CHECKPOINT_INTERVAL steps and memory snapshots every 10: a lost node's restart resumes from the
newest snapshot that survives on the remaining nodes (the incident says which), a divergence from the last healthy
checkpoint. The next start of this script readmits the nodes broken here.

Following the run; Ctrl-C stops everything.
EOF
# the first value of a string field in a JSON text: the newest incident's, as the list is newest first
first() { printf '%s' "$2" | grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }
last=""
last_incident=""
while true; do
  line=$(api "$URL/api/v1/runs/$run_id" | tr ',' '\n' | grep -E '"(state|lastStep|lastLoss|generation|restarts|tokensSeen)"' \
    | tr -d '"{}' | tr '\n' ' ' || true)
  if [ "$line" != "$last" ]; then echo "$(date +%T) $line"; last=$line; fi
  # the newest incident: kind, state and summary, when any of them changes
  incidents=$(api "$URL/api/v1/runs/$run_id/incidents" 2>/dev/null || true)
  incident=""
  if [ -n "$incidents" ] && [ "$incidents" != "[]" ]; then
    incident="$(first kind "$incidents") $(first state "$incidents"): $(first summary "$incidents")"
  fi
  if [ -n "$incident" ] && [ "$incident" != "$last_incident" ]; then
    echo "$(date +%T) incident $incident"; last_incident=$incident
  fi
  sleep 2
done
