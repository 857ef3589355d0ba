#!/usr/bin/env bash
# Recovery latencies with real processes: runs RecoveryEndToEndTest (the real orchestrator on PostgreSQL, four real
# agents, real trainers on the tiny OPT, data-parallel over WORLD ranks) and prints what the orchestrator's
# incidents measured for each story: detection latency (NODE_LOST: detected − the node's last heartbeat) and the
# time from detection to the first training step of the new generation (checkpoint load included).
# The test asserts behaviour only; the figures come from here.
#
#   bench/agent/recovery-e2e.sh                       # all five stories, 1 s heartbeats, 3 ranks
#   HEARTBEAT_MS=250 STORIES='aKilledAgent*' bench/agent/recovery-e2e.sh
#   WARM=true STORIES='aKilledAgent*' bench/agent/recovery-e2e.sh   # agents with warm restarts and a hot spare
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust). Builds protocol, collectives, trainer-engine, orchestrator and
# worker-agent in this tree; the orchestrator's Boot jar is packaged on the way.
set -euo pipefail
HEARTBEAT_MS=${HEARTBEAT_MS:-1000}
WORLD=${WORLD:-3}
STORIES=${STORIES:-}
WARM=${WARM:-false}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/bench/out/agent
mkdir -p "$out"
cd "$root"

test=RecoveryEndToEndTest
[ -n "$STORIES" ] && test="RecoveryEndToEndTest#$STORIES"
log=$out/recovery-e2e-$(date +%Y%m%d-%H%M%S).log
echo "running $test (heartbeat ${HEARTBEAT_MS} ms, world size $WORLD, warm $WARM); log: $log"
status=0
./mvnw -B -pl protocol,collectives,trainer-engine,orchestrator,worker-agent verify -Dtest="$test" \
  -Dsurefire.failIfNoSpecifiedTests=false -Dsteadyrun.e2e.heartbeatMillis="$HEARTBEAT_MS" \
  -Dsteadyrun.e2e.worldSize="$WORLD" -Dsteadyrun.e2e.warm="$WARM" >"$log" 2>&1 || status=$?
grep -h '^measured: ' "$log" worker-agent/target/surefire-reports/*RecoveryEndToEndTest-output.txt 2>/dev/null \
  | sort -u || true
grep -h 'Tests run:.*RecoveryEndToEndTest' "$log" | tail -n 1 || true
exit "$status"
