package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointPin;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.HeartbeatResponse;
import dev.steadyrun.protocol.TrainerState;
import tools.jackson.databind.JsonNode;

/**
 * Issue 15, integrity of checkpoints and recovery: nothing but the writing rank's lines in the run's own directory
 * becomes a restore point; a checkpoint one node cannot read is not corrupt; a run with checkpoints never silently
 * restarts from scratch; a retry after a failed restore keeps the decision that placed it; the chosen checkpoint is
 * checked again when the restart is placed.
 */
class RestoreIntegrityTest extends RecoverySupport {

    private static final Map<String, Object> QUICK = Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S");

    @BeforeEach
    void operator() {
        operator = token("OPERATOR");
    }

    @Test
    void onlyTheWritingRanksLinesInTheRunsOwnDirectoryBecomeRestorePoints() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        UUID runId = submit(rack, 2, 0, QUICK);
        Map<Integer, Agent> byRank = ranks(agents, 1);
        UUID otherRun = UUID.randomUUID();
        String dir = CHECKPOINTS + "/" + runId;
        // rank 1 is no checkpoint writer, even at the right place
        steps(byRank.get(1), runId, 1, 1, healthySteps(1, 5), List.of(checkpoint(runId, 5, 2.0)));
        steps(byRank.get(0), runId, 0, 1, healthySteps(1, 10), List.of(
                line(6, "/etc/passwd/step-6", List.of()),
                line(7, dir + "/../" + otherRun + "/step-7", List.of()),
                line(8, CHECKPOINTS + "/" + otherRun + "/step-8", List.of()),
                line(9, dir + "/step-10", List.of()),
                line(10, dir + "/step-10", List.of(12L)),
                checkpoint(runId, 4, 2.0)));
        JsonNode checkpoints = call("GET", "/api/v1/runs/" + runId + "/checkpoints", operator, null).body();
        assertThat(checkpoints.findValuesAsString("path")).containsExactly(checkpointPath(runId, 4));
        assertThat(run(runId).get("lastStep").asLong()).as("the reports' steps were kept").isEqualTo(10);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aCheckpointOneNodeCannotReadIsNotCorruptItsRankMovesAndTwoNodesMakeItUnavailable() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 3);
        UUID runId = submit(rack, 1, 0, QUICK);
        Agent first = ranks(agents, 1).get(0);
        steps(first, runId, 0, 1, healthySteps(1, 20), List.of(checkpoint(runId, 10, 2.0), checkpoint(runId, 20, 2.0)));
        heartbeat(first, exited(runId, 0, 1, 137, null));
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(first).restoreFrom()).isEqualTo(checkpointPath(runId, 20));

        heartbeat(first, exited(runId, 0, 2, ExitCodes.CHECKPOINT_UNAVAILABLE, null));
        JsonNode unreadable = incidents(runId).get(0);
        assertThat(unreadable.get("kind").asString()).isEqualTo("RESTORE_UNAVAILABLE");
        assertThat(unreadable.at("/restoreFrom/step").asLong()).as("the same checkpoint, elsewhere").isEqualTo(20);
        assertThat(checkpointRow(runId, 20).get("corrupt").asBoolean()).isFalse();
        assertThat(checkpointRow(runId, 20).get("unavailable").asBoolean()).isFalse();
        stopAll(agents, runId, 2);
        passBackoff(Duration.ofSeconds(2), agents);
        Map<Integer, Agent> third = ranks(agents, 3);
        Agent second = third.get(0);
        assertThat(second).as("the rank moved off the node that could not read it").isNotEqualTo(first);
        assertThat(assignment(second).restoreFrom()).isEqualTo(checkpointPath(runId, 20));

        heartbeat(second, exited(runId, 0, 3, ExitCodes.CHECKPOINT_UNAVAILABLE, null));
        assertThat(checkpointRow(runId, 20).get("unavailable").asBoolean()).as("two nodes could not").isTrue();
        assertThat(checkpointRow(runId, 20).get("corrupt").asBoolean()).isFalse();
        assertThat(incidents(runId).get(0).at("/restoreFrom/step").asLong()).isEqualTo(10);
        stopAll(agents, runId, 3);
        passBackoff(Duration.ofSeconds(4), agents);
        Agent last = ranks(agents, 4).get(0);
        assertThat(last).isNotEqualTo(second);
        assertThat(assignment(last).restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aRunWithCheckpointsNeverRestartsFromScratchAHumanDecides() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, QUICK);
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 10), List.of(checkpoint(runId, 10, 2.0)));
        heartbeat(agent, exited(runId, 0, 1, 137, null));
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(agent).restoreFrom()).isEqualTo(checkpointPath(runId, 10));

        heartbeat(agent, exited(runId, 0, 2, ExitCodes.CORRUPT_CHECKPOINT, null)); // its only checkpoint is corrupt
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("state").asString()).isEqualTo("NEEDS_HUMAN");
        assertThat(incident.at("/decision/action").asString()).isEqualTo("PAUSE_AND_CALL_HUMAN");
        assertThat(incident.at("/decision/reasons").toString()).contains("none is usable");
        assertThat(run(runId).get("state").asString()).isEqualTo("PAUSING");
        assertThat(alertEvents("human.needed", runId)).isEqualTo(1);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aRetryAfterAFailedRestoreKeepsTheDivergencesKnobsAndRuleWhicheverExitArrivesFirst() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        UUID runId = submit(rack, 2, 0, Map.of("rollbackMarginSteps", 10, "backoffInitial", "PT1S",
                "backoffMax", "PT1S", "divergenceLadder", List.of(Map.of("resetLossScaler", true,
                        "lrMultiplier", 0.9, "clipNorm", 0.3, "skipBatches", 200))));
        Map<Integer, Agent> byRank = ranks(agents, 1);
        steps(byRank.get(0), runId, 0, 1, healthySteps(1, 204), List.of(checkpoint(runId, 100, 2.0),
                checkpoint(runId, 140, 0.5), checkpoint(runId, 150, 2.0), checkpoint(runId, 200, 2.0)));
        steps(byRank.get(0), runId, 0, 1, List.of(step(205, Double.NaN, 1000)), List.of());
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Map<Integer, Agent> second = ranks(agents, 2);
        Assignment gen2 = assignment(second.get(0));
        assertThat(gen2.restoreFrom()).isEqualTo(checkpointPath(runId, 150));
        assertThat(gen2.knobs().clipNorm()).isEqualTo(0.3);

        // rank 1 loses its peer first; then rank 0's restore turns out corrupt
        heartbeat(second.get(1), exited(runId, 1, 2, ExitCodes.PEER_LOST, null));
        scheduling.runOnce();
        heartbeat(second.get(0), exited(runId, 0, 2, ExitCodes.CORRUPT_CHECKPOINT, null));
        JsonNode retry = incidents(runId).get(0);
        assertThat(retry.get("kind").asString()).isEqualTo("TRAINER_CRASH");
        assertThat(retry.at("/decision/knobs/lrMultiplier").asDouble()).isEqualTo(0.9);
        assertThat(retry.at("/decision/knobs/skipBatches").asLong()).isEqualTo(200);
        assertThat(retry.at("/decision/reasons").toString()).contains("never trained");
        stopAll(agents, runId, 2);
        passBackoff(Duration.ofSeconds(2), agents);
        Assignment gen3 = assignment(ranks(agents, 3).get(0));
        // 150 is corrupt; the divergence's rule still holds: 140 was written at loss scale 0.5, so 100
        assertThat(gen3.restoreFrom()).isEqualTo(checkpointPath(runId, 100));
        assertThat(gen3.knobs().lrMultiplier()).isEqualTo(0.9);
        assertThat(gen3.knobs().clipNorm()).isEqualTo(0.3);
        assertThat(gen3.knobs().resetLossScaler()).isTrue();
        assertThat(gen3.knobs().skipBatches()).isEqualTo(200);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aRestorePointDeletedBeforeTheRestartIsPlacedIsReplacedByTheSameRule() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, QUICK);
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 20), List.of(checkpoint(runId, 10, 2.0), checkpoint(runId, 20, 2.0)));
        heartbeat(agent, exited(runId, 0, 1, 137, null));
        assertThat(incidents(runId).get(0).at("/restoreFrom/step").asLong()).isEqualTo(20);
        // a line of the stopping generation says its retention deleted 20 (a later checkpoint, 21, was written)
        CheckpointWritten later = new CheckpointWritten(21, 22 * 1024, checkpointPath(runId, 21), 2.0, 3.0, "sha21",
                10, List.of(20L));
        steps(agent, runId, 0, 1, List.of(), List.of(later));
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(agent).restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.at("/restoreFrom/step").asLong()).isEqualTo(10);
        assertThat(incident.at("/skippedCheckpoints/0/reason").asString()).contains("removed");
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void theAssignmentCarriesTheManifestShaItsWriterReportedSoTheTrainerCanRefuseAnyOther() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, QUICK);
        ranks(agents, 1);
        Assignment fresh = assignment(agent);
        assertThat(fresh.restoreFrom()).isNull();
        assertThat(fresh.restoreSha256()).isNull();
        steps(agent, runId, 0, 1, healthySteps(1, 20), List.of(checkpoint(runId, 10, 2.0), checkpoint(runId, 20, 2.0)));
        heartbeat(agent, exited(runId, 0, 1, 137, null));
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Assignment restart = assignment(agent);
        assertThat(restart.restoreFrom()).isEqualTo(checkpointPath(runId, 20));
        assertThat(restart.restoreSha256()).isEqualTo("sha20");
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    /**
     * The old generation's rank 0 may still write checkpoints, and its retention delete older ones, until it stops:
     * the answer that stops it names the restart's restore point, which the agent pins for the trainer's retention.
     */
    @Test
    void theAnswerThatStopsTheOldGenerationPinsTheChosenRestorePoint() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        UUID runId = submit(rack, 2, 0, QUICK);
        Map<Integer, Agent> byRank = ranks(agents, 1);
        steps(byRank.get(0), runId, 0, 1, healthySteps(1, 20), List.of(checkpoint(runId, 10, 2.0),
                checkpoint(runId, 20, 2.0)));
        heartbeat(byRank.get(1), exited(runId, 1, 1, 137, null));
        scheduling.runOnce(); // snapshot: the run is RECOVERING
        HeartbeatResponse stop = heartbeat(byRank.get(0), trainer(TrainerState.RUNNING, runId, 0, 1));
        assertThat(stop.desired()).isEqualTo(DesiredState.STOP);
        assertThat(stop.keep()).isEqualTo(new CheckpointPin(runId, 20));
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(ranks(agents, 2).get(0)).restoreFrom()).isEqualTo(checkpointPath(runId, 20));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    private static CheckpointWritten line(long step, String path, List<Long> removed) {
        return new CheckpointWritten(step, (step + 1) * 1024, path, 2.0, 3.0, "sha" + step, 10, removed);
    }

    private JsonNode checkpointRow(UUID runId, long step) {
        JsonNode all = call("GET", "/api/v1/runs/" + runId + "/checkpoints", operator, null).body();
        for (JsonNode c : all) {
            if (c.get("step").asLong() == step) {
                return c;
            }
        }
        throw new AssertionError("no checkpoint " + step + " in " + all);
    }
}
