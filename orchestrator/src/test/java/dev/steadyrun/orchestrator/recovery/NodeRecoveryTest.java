package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.PeerCheck;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/** Hardware: a lost node's rank goes to the spare at a new generation; stragglers and operator swaps. */
class NodeRecoveryTest extends RecoverySupport {

    /** A batch three ranks can split into whole sequences. */
    private static final Map<String, Object> THREE_RANKS = Map.of("hyper", Map.of("batchTokens", 384));

    @BeforeEach
    void operator() {
        operator = token("OPERATOR");
    }

    @Test
    void lostNodeIsReplacedBySpareFromNewestCheckpointAfterEveryOldRankStopped() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        UUID runId = submit(rack, 2, 1, Map.of("backoffInitial", "PT5S"));
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        assertThat(gen1).containsOnlyKeys(0, 1);
        Agent survivor = gen1.get(0);
        Agent lost = gen1.get(1);
        Agent spare = agents.stream().filter(a -> !gen1.containsValue(a)).findFirst().orElseThrow();
        assertThat(steps(survivor, runId, 0, 1, healthySteps(1, 10), List.of(checkpoint(runId, 5, 2.0), checkpoint(runId, 10, 2.0)))
                .status()).isEqualTo(204);
        assertThat(steps(lost, runId, 1, 1, healthySteps(1, 10), List.of()).status()).isEqualTo(204);

        // rank 1's node goes silent; the others keep beating; the sweep 3 s later calls it lost
        clock.advance(Duration.ofSeconds(3));
        heartbeat(survivor, trainer(TrainerState.RUNNING, runId, 0, 1));
        heartbeat(spare, TrainerStatus.idle());
        sweeper.sweep(clock.instant());
        assertThat(nodeState(lost.id())).isEqualTo("SUSPECT");
        assertThat(run(runId).get("state").asString()).isEqualTo("RECOVERING");
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("NODE_LOST");
        assertThat(incident.get("cause").asString()).isEqualTo("HARDWARE");
        assertThat(incident.get("nodeName").asString()).isEqualTo(lost.name());
        assertThat(incident.get("rank").asInt()).isEqualTo(1);
        assertThat(incident.get("generation").asLong()).isEqualTo(1);
        assertThat(incident.get("lastHeartbeatAt").isNull()).isFalse();
        assertThat(incident.get("detectionLatencySeconds").asDouble()).isEqualTo(3.0);
        assertThat(incident.get("summary").asString()).contains("lost", "lease 2.5 s");
        assertThat(incident.at("/decision/action").asString()).isEqualTo("SWAP_NODE_AND_RESTART");
        assertThat(incident.at("/decision/consumesBudget").asBoolean()).isFalse();
        assertThat(incident.at("/decision/backoffSeconds").asDouble()).isEqualTo(5.0);
        assertThat(incident.at("/restoreFrom/step").asLong()).isEqualTo(10);
        assertThat(incident.get("state").asString()).isEqualTo("RECOVERING");

        // past the backoff, but rank 0 still runs generation 1: nothing new is handed out
        scheduling.runOnce();
        assertThat(heartbeat(survivor, trainer(TrainerState.RUNNING, runId, 0, 1)).desired())
                .isEqualTo(DesiredState.STOP);
        for (int i = 0; i < 3; i++) { // 6 s, the survivor beating every 2 s
            clock.advance(Duration.ofSeconds(2));
            heartbeat(survivor, trainer(TrainerState.RUNNING, runId, 0, 1));
            heartbeat(spare, TrainerStatus.idle());
            scheduling.runOnce();
        }
        assertThat(run(runId).get("generation").asLong()).isEqualTo(1);
        assertThat(heartbeat(spare, TrainerStatus.idle()).desired()).isEqualTo(DesiredState.IDLE);
        sweeper.sweep(clock.instant()); // 9 s of silence: past the quiet grace too
        assertThat(nodeState(lost.id())).isEqualTo("FAILED");
        assertThat(incidents(runId).size()).as("one loss, one incident").isEqualTo(1);

        // rank 0 exits "peer lost" (5): expected while recovering, no new incident; then generation 2 starts
        assertThat(heartbeat(survivor, exitedStatus(runId, 1, 5)).desired()).isEqualTo(DesiredState.IDLE);
        scheduling.runOnce();
        JsonNode restarted = awaitState(operator, runId, RunState.STARTING).body();
        assertThat(restarted.get("generation").asLong()).isEqualTo(2);
        assertThat(incidents(runId).size()).isEqualTo(1);
        Assignment a0 = assignment(survivor);
        Assignment a1 = assignment(spare);
        assertThat(a0.generation()).isEqualTo(2);
        assertThat(a0.rank()).isZero();
        assertThat(a1.rank()).isEqualTo(1);
        assertThat(a0.restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        assertThat(a1.restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        assertThat(nodeState(spare.id())).isEqualTo("HEALTHY");

        // the old generation is fenced; the new one's first step recovers the incident
        assertThat(steps(survivor, runId, 0, 1, healthySteps(11, 11), List.of()).status()).isEqualTo(409);
        assertThat(steps(spare, runId, 1, 2, healthySteps(11, 12), List.of()).status()).isEqualTo(204);
        incident = incidents(runId).get(0);
        assertThat(incident.get("state").asString()).isEqualTo("RECOVERED");
        assertThat(incident.get("newGeneration").asLong()).isEqualTo(2);
        assertThat(incident.at("/swappedIn/nodeName").asString()).isEqualTo(spare.name());
        assertThat(incident.get("recoveredAt").isNull()).isFalse();
        assertThat(incident.get("timeToRecoverySeconds").asDouble()).isGreaterThanOrEqualTo(5.0);
        JsonNode run = run(runId);
        assertThat(run.get("state").asString()).isEqualTo("RUNNING");
        assertThat(run.get("restarts").asInt()).isEqualTo(1);
        assertThat(run.get("openIncidents").asInt()).isZero();
        assertThat(run.get("goodput").isNull()).isFalse();

        // the logbook by node: the lost one and the one swapped in
        assertThat(call("GET", "/api/v1/nodes/" + lost.id() + "/incidents", operator, null).body().findValuesAsString("kind"))
                .containsExactly("NODE_LOST");
        assertThat(call("GET", "/api/v1/nodes/" + spare.id() + "/incidents", operator, null).body().size()).isEqualTo(1);
        assertThat(call("GET", "/api/v1/nodes/" + UUID.randomUUID() + "/incidents", operator, null).status())
                .isEqualTo(404);
        assertThat(call("GET", "/api/v1/runs/" + runId + "/events", operator, null).body().findValuesAsString("reason"))
                .anyMatch(r -> r.startsWith("incident #") && r.contains("NODE_LOST"));
        assertThat(alertEvents("incident.opened", runId)).isEqualTo(1);
        assertThat(alertEvents("node.swapped", runId)).isEqualTo(1);
        assertThat(alertEvents("incident.resolved", runId)).isEqualTo(1);

        recovery.watch(clock.instant());
        String prometheus = prometheus();
        assertThat(prometheus).contains("steadyrun_recovery_detection_latency_seconds_bucket{",
                "steadyrun_recovery_time_to_recovery_seconds_count{", "steadyrun_run_restarts_total{",
                "steadyrun_run_goodput{");
        assertThat(prometheus).containsPattern("steadyrun_recovery_detection_latency_seconds_count\\{[^}]*kind=\"NODE_LOST\"[^}]*} [1-9]");
        assertThat(prometheus).containsPattern("steadyrun_run_restarts_total\\{[^}]*cause=\"HARDWARE\"[^}]*} [1-9]");
        // the pass and the restart it placed are timed (what the soak reads at scale)
        assertThat(prometheus).containsPattern("steadyrun_scheduling_pass_seconds_count\\{[^}]*} [1-9]")
                .containsPattern("steadyrun_restart_placement_seconds_count\\{[^}]*outcome=\"placed\"[^}]*} [1-9]")
                .containsPattern("steadyrun_restart_placement_seconds_count\\{[^}]*outcome=\"waiting\"[^}]*} [1-9]");
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aNodeLostWhileThePeersAlreadyExitedJoinsThatRestart() {
        TwoRanksAndASpare gen1 = twoRanksAndASpare(Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"));
        UUID runId = gen1.runId();
        Agent survivor = gen1.rank0();
        Agent lost = gen1.rank1();
        Agent spare = gen1.spare();
        steps(survivor, runId, 0, 1, healthySteps(1, 4), List.of(checkpoint(runId, 4, 2.0)));
        // rank 0's collective times out before rank 1's lease runs out: "peer lost" (5) opens the incident
        clock.advance(Duration.ofSeconds(2));
        assertThat(heartbeat(survivor, exitedStatus(runId, 1, 5)).desired()).isEqualTo(DesiredState.IDLE);
        heartbeat(spare, TrainerStatus.idle());
        assertThat(incidents(runId).get(0).get("cause").asString()).isEqualTo("INFRASTRUCTURE");
        clock.advance(Duration.ofSeconds(1));
        heartbeat(survivor, exitedStatus(runId, 1, 5));
        heartbeat(spare, TrainerStatus.idle());
        sweeper.sweep(clock.instant());
        JsonNode lostIncident = incidents(runId).get(0);
        assertThat(lostIncident.get("kind").asString()).isEqualTo("NODE_LOST");
        assertThat(lostIncident.get("state").asString()).isEqualTo("RECOVERING");
        assertThat(lostIncident.at("/restoreFrom/step").asLong()).isEqualTo(4);
        assertThat(lostIncident.at("/decision/reasons/0").asString()).contains("joins", "incident #");
        passBackoff(Duration.ofSeconds(1), List.of(survivor, spare));
        Map<Integer, Agent> gen2 = ranks(List.of(survivor, spare), 2);
        assertThat(gen2).containsEntry(0, survivor).containsEntry(1, spare);
        steps(spare, runId, 1, 2, healthySteps(5, 5), List.of());
        assertThat(incidents(runId).findValuesAsString("state")).containsOnly("RECOVERED");
        assertThat(run(runId).get("restarts").asInt()).isEqualTo(1);
        assertThat(call("GET", "/api/v1/runs/" + UUID.randomUUID() + "/incidents", operator, null).status())
                .isEqualTo(404);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aNodeJudgedLostJustAfterTheRestartLeftItOutStillHasItsIncident() {
        TwoRanksAndASpare gen1 = twoRanksAndASpare(Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"));
        UUID runId = gen1.runId();
        Agent survivor = gen1.rank0();
        Agent lost = gen1.rank1();
        Agent spare = gen1.spare();
        steps(survivor, runId, 0, 1, healthySteps(1, 4), List.of(checkpoint(runId, 4, 2.0)));
        // rank 1's node is out of service (cordoned) when rank 0 exits: the restart places the spare in its seat
        // before the node is judged lost (on a real cluster: the placement saw it silent a moment before the sweep
        // recorded its loss)
        assertThat(call("POST", "/api/v1/nodes/" + lost.id() + "/cordon", ADMIN_TOKEN, null).status()).isEqualTo(200);
        heartbeat(survivor, exitedStatus(runId, 1, 5));
        passBackoff(Duration.ofSeconds(1), List.of(survivor, lost, spare));
        Map<Integer, Agent> gen2 = ranks(List.of(survivor, spare), 2);
        assertThat(gen2).containsEntry(0, survivor).containsEntry(1, spare);
        assertThat(incidents(runId).findValuesAsString("kind")).containsExactly("TRAINER_CRASH");

        // the node goes silent past its lease and quiet grace: FAILED, and its loss joins the restart that left it out
        for (int i = 0; i < 5; i++) {
            clock.advance(Duration.ofSeconds(2));
            heartbeat(survivor, TrainerStatus.idle());
            heartbeat(spare, TrainerStatus.idle());
        }
        sweeper.sweep(clock.instant());
        JsonNode lostIncident = incidents(runId).get(0);
        assertThat(lostIncident.get("kind").asString()).isEqualTo("NODE_LOST");
        assertThat(lostIncident.get("nodeName").asString()).isEqualTo(lost.name());
        assertThat(lostIncident.get("rank").asInt()).isEqualTo(1);
        assertThat(lostIncident.get("generation").asLong()).isEqualTo(1);
        assertThat(lostIncident.get("newGeneration").asLong()).isEqualTo(2);
        assertThat(lostIncident.at("/swappedIn/nodeName").asString()).isEqualTo(spare.name());
        assertThat(lostIncident.at("/restoreFrom/step").asLong()).isEqualTo(4);
        assertThat(lostIncident.at("/decision/reasons/0").asString()).contains("placed generation 2 without it");
        steps(spare, runId, 1, 2, healthySteps(5, 5), List.of());
        assertThat(incidents(runId).findValuesAsString("state")).containsOnly("RECOVERED");
        assertThat(run(runId).get("restarts").asInt()).as("one restart for both").isEqualTo(1);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aRankCutOffFromItsPeersIsNamedByAPeersCheckAndMovesWhileItsNodeStaysHealthy() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 4);
        UUID runId = submit(rack, 3, 1, Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"), THREE_RANKS);
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        Agent reporter = gen1.get(0);
        Agent cut = gen1.get(2);
        Agent spare = agents.stream().filter(a -> !gen1.containsValue(a)).findFirst().orElseThrow();
        steps(reporter, runId, 0, 1, healthySteps(1, 4), List.of(checkpoint(runId, 4, 2.0)));

        // rank 0's ring went silent; its check reached rank 1 but not rank 2, whose node still heartbeats
        PeerCheck check = new PeerCheck(0, 3, List.of(2), List.of(1));
        heartbeat(reporter, new TrainerStatus(TrainerState.EXITED, runId, 0, 1, 5, 4,
                List.of("error: data parallel: rank 0: peer lost: nothing from predecessor rank 2", check.line()), null));
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("PEER_UNREACHABLE");
        assertThat(incident.get("cause").asString()).isEqualTo("INFRASTRUCTURE");
        assertThat(incident.get("nodeName").asString()).isEqualTo(cut.name());
        assertThat(incident.get("rank").asInt()).isEqualTo(2);
        assertThat(incident.get("summary").asString()).contains(cut.name(), "cut off from its peers");
        assertThat(incident.at("/evidence/cutOffNode").asString()).isEqualTo(cut.name());
        assertThat(incident.at("/evidence/peerCheck/reporterNode").asString()).isEqualTo(reporter.name());
        assertThat(incident.at("/decision/action").asString()).isEqualTo("SWAP_NODE_AND_RESTART");
        assertThat(incident.at("/decision/consumesBudget").asBoolean()).isFalse();
        assertThat(nodeState(cut.id())).as("not cordoned: its network may heal").isEqualTo("HEALTHY");

        // the cut-off rank's own check (it reached nobody) names the same node: nothing new
        heartbeat(cut, new TrainerStatus(TrainerState.EXITED, runId, 2, 1, 5, 4,
                List.of(new PeerCheck(2, 3, List.of(1, 0), List.of()).line()), null));
        assertThat(incidents(runId)).hasSize(1);
        stopAll(gen1.values(), runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Map<Integer, Agent> gen2 = ranks(agents, 2);
        assertThat(gen2.get(2)).isEqualTo(spare);
        assertThat(gen2.values()).doesNotContain(cut);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aPeerCheckThatIsNotTheExitingRanksOwnNamesNobody() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        UUID runId = submit(rack, 3, 0, Map.of("backoffInitial", "PT1S"), THREE_RANKS);
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        // rank 0's log tail carries a line claiming to be rank 1's check: not evidence of rank 0's ring
        heartbeat(gen1.get(0), new TrainerStatus(TrainerState.EXITED, runId, 0, 1, 5, -1,
                List.of(new PeerCheck(1, 3, List.of(2), List.of(0)).line()), null));
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("TRAINER_CRASH");
        assertThat(incident.get("nodeName").asString()).isEqualTo(gen1.get(0).name());
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void fatalXidFailsTheNodeAndSwapsInAFreeNode() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        UUID runId = submit(rack, 1, 0, Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"));
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        Agent broken = gen1.get(0);
        Agent free = agents.stream().filter(a -> a != broken).findFirst().orElseThrow();
        steps(broken, runId, 0, 1, healthySteps(1, 3), List.of(checkpoint(runId, 3, 2.0)));
        Reply beat = heartbeat(broken.registration(), 10_000, trainer(TrainerState.RUNNING, runId, 0, 1),
                new dev.steadyrun.protocol.GpuHealth(0, 55, 1000, 81559, 0, 0, 0, 0, List.of(79), 0));
        assertThat(beat.status()).isEqualTo(200);
        assertThat(nodeState(broken.id())).isEqualTo("FAILED");
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("GPU_FAULT");
        assertThat(incident.at("/evidence/xid").asInt()).isEqualTo(79);
        // a failed node counts as stopped: the free node takes rank 0 once the backoff passed
        passBackoff(Duration.ofSeconds(1), List.of(free));
        assertThat(awaitState(operator, runId, RunState.STARTING).body().get("generation").asLong()).isEqualTo(2);
        Assignment a = assignment(free);
        assertThat(a.rank()).isZero();
        assertThat(a.restoreFrom()).isEqualTo(checkpointPath(runId, 3));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void persistentStragglerIsCordonedAndSwapped() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 4);
        UUID runId = submit(rack, 3, 1, Map.of("stragglerWindowSteps", 5, "stragglerConsecutiveWindows", 2,
                "backoffInitial", "PT1S", "backoffMax", "PT1S"), Map.of("hyper", Map.of("batchTokens", 1152)));
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        assertThat(gen1).containsOnlyKeys(0, 1, 2);
        for (long from = 1; from <= 6; from += 5) {
            for (int rank = 0; rank < 3; rank++) {
                List<dev.steadyrun.protocol.StepMetrics> window = new java.util.ArrayList<>();
                for (long s = from; s < from + 5; s++) {
                    window.add(step(s, 3.0, rank == 2 ? 3000 : 1000));
                }
                assertThat(steps(gen1.get(rank), runId, rank, 1, window, List.of()).status()).isEqualTo(204);
            }
        }
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("STRAGGLER");
        assertThat(incident.get("rank").asInt()).isEqualTo(2);
        assertThat(incident.at("/evidence/stragglerScores/2").asDouble()).isEqualTo(3.0);
        assertThat(nodeState(gen1.get(2).id())).isEqualTo("CORDONED");
        stopAll(gen1.values(), runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Map<Integer, Agent> gen2 = ranks(agents, 2);
        assertThat(gen2).containsOnlyKeys(0, 1, 2);
        assertThat(gen2.get(2)).isNotEqualTo(gen1.get(2));
        assertThat(gen2.get(0)).isEqualTo(gen1.get(0));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void operatorSwapMovesTheRankToAFreeNode() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        UUID runId = submit(rack, 2, 0, Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"));
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        Agent idle = agents.stream().filter(a -> !gen1.containsValue(a)).findFirst().orElseThrow();
        assertThat(call("POST", "/api/v1/nodes/" + idle.id() + "/swap", operator, null).status()).isEqualTo(409);
        assertThat(call("POST", "/api/v1/nodes/" + UUID.randomUUID() + "/swap", operator, null).status()).isEqualTo(404);
        assertThat(call("POST", "/api/v1/nodes/" + gen1.get(1).id() + "/swap", token("VIEWER"), null).status())
                .isEqualTo(403);
        Reply swap = call("POST", "/api/v1/nodes/" + gen1.get(1).id() + "/swap", operator, null);
        assertThat(swap.status()).as(swap.raw().body()).isEqualTo(202);
        assertThat(swap.body().get("kind").asString()).isEqualTo("NODE_SWAP");
        assertThat(swap.body().get("cause").asString()).isEqualTo("OPERATOR");
        assertThat(nodeState(gen1.get(1).id())).isEqualTo("CORDONED");
        stopAll(gen1.values(), runId, 1);
        passBackoff(Duration.ZERO, agents);
        Map<Integer, Agent> gen2 = ranks(agents, 2);
        assertThat(gen2.get(1)).isEqualTo(idle);
        assertThat(gen2.get(0)).isEqualTo(gen1.get(0));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    private static TrainerStatus exitedStatus(UUID runId, long generation, int code) {
        return exited(runId, 0, generation, code, null);
    }
}
