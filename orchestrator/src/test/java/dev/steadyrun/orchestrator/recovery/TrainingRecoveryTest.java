package dev.steadyrun.orchestrator.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.steadyrun.orchestrator.run.RunState;
import dev.steadyrun.protocol.Assignment;
import dev.steadyrun.protocol.CheckpointWritten;
import dev.steadyrun.protocol.DesiredState;
import dev.steadyrun.protocol.ExitCodes;
import dev.steadyrun.protocol.StepMetrics;
import dev.steadyrun.protocol.TrainerState;
import dev.steadyrun.protocol.TrainerStatus;
import tools.jackson.databind.JsonNode;

/** The run's own failures: divergence up the ladder, crashes and the budget, corrupt checkpoints, hangs, no progress. */
class TrainingRecoveryTest extends RecoverySupport {

    private static final String BUDGET_EXHAUSTED = "steadyrun_run_restart_budget_exhausted_total";

    private static final Map<String, Object> TWO_RUNGS = Map.of(
            "rollbackMarginSteps", 10, "backoffInitial", "PT1S", "backoffMax", "PT1S",
            "divergenceLadder", List.of(Map.of("resetLossScaler", true),
                    Map.of("resetLossScaler", true, "lrMultiplier", 0.9, "clipNorm", 0.3)));

    @BeforeEach
    void operator() {
        operator = token("OPERATOR");
    }

    @Test
    void divergenceRollsBackUpTheLadderThenCallsAHuman() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, TWO_RUNGS);
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 204),
                List.of(checkpoint(runId, 100, 2.0), checkpoint(runId, 150, 2.0), checkpoint(runId, 200, 2.0)));
        // the first report that shows the NaN is acted on before its answer
        assertThat(steps(agent, runId, 0, 1, List.of(step(205, Double.NaN, 1000)), List.of()).status()).isEqualTo(204);
        assertThat(run(runId).get("state").asString()).isEqualTo("RECOVERING");
        JsonNode first = incidents(runId).get(0);
        assertThat(first.get("kind").asString()).isEqualTo("DIVERGENCE");
        assertThat(first.get("onsetStep").asLong()).isEqualTo(205);
        assertThat(first.at("/evidence/metrics").size()).isEqualTo(20);
        assertThat(first.at("/evidence/rule").asString()).isEqualTo("NON_FINITE_LOSS");
        assertThat(first.at("/decision/action").asString()).isEqualTo("ROLLBACK_AND_RESTART");
        assertThat(first.at("/restoreFrom/step").asLong()).isEqualTo(150);
        assertThat(first.at("/skippedCheckpoints/0/step").asLong()).isEqualTo(200);
        assertThat(first.at("/skippedCheckpoints/0/reason").asString()).contains("onset");
        JsonNode checkpoints = call("GET", "/api/v1/runs/" + runId + "/checkpoints", operator, null).body();
        assertThat(checkpoints.at("/0/step").asLong()).isEqualTo(200);
        assertThat(checkpoints.at("/0/abandoned").asBoolean()).isTrue();
        assertThat(checkpoints.at("/1/abandoned").asBoolean()).isFalse();

        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Assignment gen2 = assignment(agent);
        assertThat(gen2.generation()).isEqualTo(2);
        assertThat(gen2.restoreFrom()).isEqualTo(checkpointPath(runId, 150));
        assertThat(gen2.knobs().resetLossScaler()).isTrue();
        assertThat(gen2.knobs().lrMultiplier()).isNull();
        assertThat(run(runId).get("lastStep").asLong()).isEqualTo(150);
        assertThat(run(runId).get("tokensSeen").asLong()).as("the restored checkpoint's").isEqualTo(151 * 1024);

        // second divergence: rung 2's knobs
        List<StepMetrics> warm = new ArrayList<>(healthySteps(151, 175));
        warm.add(step(176, 3.0 * 4, 1000)); // a loss spike after the warm-up
        steps(agent, runId, 0, 2, warm, List.of());
        JsonNode second = incidents(runId).get(0);
        assertThat(second.at("/evidence/rule").asString()).isEqualTo("LOSS_SPIKE");
        assertThat(second.get("onsetStep").asLong()).isEqualTo(176);
        assertThat(second.at("/restoreFrom/step").asLong()).isEqualTo(150);
        assertThat(incidents(runId).get(1).get("state").asString()).isEqualTo("RECOVERED");
        stopAll(agents, runId, 2);
        passBackoff(Duration.ofSeconds(1), agents);
        Assignment gen3 = assignment(agent);
        assertThat(gen3.generation()).isEqualTo(3);
        assertThat(gen3.knobs().lrMultiplier()).isEqualTo(0.9);
        assertThat(gen3.knobs().clipNorm()).isEqualTo(0.3);

        // third: past the ladder, the run pauses and a human is called
        steps(agent, runId, 0, 3, List.of(step(151, Double.POSITIVE_INFINITY, 1000)), List.of());
        JsonNode third = incidents(runId).get(0);
        assertThat(third.get("state").asString()).isEqualTo("NEEDS_HUMAN");
        assertThat(third.at("/decision/action").asString()).isEqualTo("PAUSE_AND_CALL_HUMAN");
        assertThat(third.at("/decision/reasons").toString()).contains("exhausted");
        assertThat(run(runId).get("state").asString()).isEqualTo("PAUSING");
        assertThat(run(runId).get("openIncidents").asInt()).isEqualTo(1);
        assertThat(alertEvents("human.needed", runId)).isEqualTo(1);
        assertThat(alertEvents("incident.opened", runId)).isEqualTo(3);

        // the operator gives up on the run: the incident that waited for a human closes with it
        assertThat(call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null).status()).isEqualTo(200);
        stopAll(agents, runId, 3);
        scheduling.runOnce();
        awaitState(operator, runId, RunState.CANCELLED);
        JsonNode closed = incidents(runId).get(0);
        assertThat(closed.get("state").asString()).isEqualTo("CLOSED");
        assertThat(closed.at("/evidence/closed").asString()).contains("CANCELLED");
        assertThat(incidents(runId).findValuesAsString("state")).containsExactly("CLOSED", "RECOVERED", "RECOVERED");
        assertThat(run(runId).get("openIncidents").asInt()).isZero();
    }

    /**
     * The race: a trainer prints the step with the NaN loss and exits 4 (diverged); the heartbeat carrying that exit
     * can reach the orchestrator before the report with the step. Either way it is a divergence: rolled back to a
     * healthy checkpoint before the onset with the ladder's knobs, not a user-code crash charged to the budget.
     */
    @Test
    void aDivergedExitThatArrivesBeforeItsNonFiniteStepIsADivergence() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, TWO_RUNGS);
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 204),
                List.of(checkpoint(runId, 100, 2.0), checkpoint(runId, 150, 2.0), checkpoint(runId, 200, 2.0)));
        TrainerStatus diverged = new TrainerStatus(TrainerState.EXITED, runId, 0, 1, ExitCodes.DIVERGED, 205,
                List.of("error: diverged: loss is NaN at step 205"), null);
        assertThat(heartbeat(agent, diverged).desired()).isEqualTo(DesiredState.IDLE);
        assertThat(run(runId).get("state").asString()).isEqualTo("RECOVERING");
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("DIVERGENCE");
        assertThat(incident.get("cause").asString()).isEqualTo("DIVERGENCE");
        assertThat(incident.get("onsetStep").asLong()).isEqualTo(205);
        assertThat(incident.at("/evidence/rule").asString()).isEqualTo("NON_FINITE_LOSS");
        assertThat(incident.at("/evidence/exitCode").asInt()).isEqualTo(ExitCodes.DIVERGED);
        assertThat(incident.at("/decision/action").asString()).isEqualTo("ROLLBACK_AND_RESTART");
        assertThat(incident.at("/decision/consumesBudget").asBoolean()).isFalse();
        assertThat(incident.at("/restoreFrom/step").asLong()).isEqualTo(150);

        // the step report arrives late: it shows the same divergence, which opens nothing more
        assertThat(steps(agent, runId, 0, 1, List.of(step(205, Double.NaN, 1000)), List.of()).status()).isEqualTo(204);
        assertThat(incidents(runId).size()).isEqualTo(1);

        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Assignment gen2 = assignment(agent);
        assertThat(gen2.restoreFrom()).isEqualTo(checkpointPath(runId, 150));
        assertThat(gen2.knobs().resetLossScaler()).as("the ladder's first rung").isTrue();
    }

    @Test
    void userCodeCrashesConsumeTheBudgetInfrastructureExitsDoNot() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, Map.of("restartBudget", 1, "backoffInitial", "PT1S", "backoffMax", "PT1S"));
        double pausedBefore = sample(prometheus(), BUDGET_EXHAUSTED, "outcome=\"paused\"");
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 5), List.of());
        assertThat(heartbeat(agent, exited(runId, 0, 1, 137, null)).desired()).isEqualTo(DesiredState.IDLE);
        JsonNode killed = incidents(runId).get(0);
        assertThat(killed.get("kind").asString()).isEqualTo("TRAINER_CRASH");
        assertThat(killed.get("cause").asString()).isEqualTo("INFRASTRUCTURE");
        assertThat(killed.at("/decision/consumesBudget").asBoolean()).isFalse();
        assertThat(killed.at("/evidence/exitCode").asInt()).isEqualTo(137);
        assertThat(killed.at("/evidence/logTail/1").asString()).contains("boom");
        assertThat(killed.get("onsetStep").asLong()).isEqualTo(5);
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(agent).generation()).isEqualTo(2);

        steps(agent, runId, 0, 2, healthySteps(6, 8), List.of());
        heartbeat(agent, exited(runId, 0, 2, 1, null));
        JsonNode userCode = incidents(runId).get(0);
        assertThat(userCode.get("cause").asString()).isEqualTo("USER_CODE");
        assertThat(userCode.at("/decision/consumesBudget").asBoolean()).isTrue();
        assertThat(userCode.at("/decision/action").asString()).isEqualTo("RESTART_FROM_LATEST");
        stopAll(agents, runId, 2);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(agent).generation()).isEqualTo(3);

        steps(agent, runId, 0, 3, healthySteps(9, 10), List.of());
        heartbeat(agent, exited(runId, 0, 3, 1, null));
        JsonNode exhausted = incidents(runId).get(0);
        assertThat(exhausted.get("state").asString()).isEqualTo("NEEDS_HUMAN");
        assertThat(exhausted.at("/decision/reasons").toString()).contains("budget used up");
        assertThat(run(runId).get("state").asString()).isEqualTo("PAUSING");
        assertThat(alertEvents("run.restart_budget_exhausted", runId)).isEqualTo(1);
        assertThat(sample(prometheus(), BUDGET_EXHAUSTED, "outcome=\"paused\"")).isEqualTo(pausedBefore + 1);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void corruptCheckpointAfterRestoreFallsBackToThePreviousOne() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"));
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 20), List.of(checkpoint(runId, 10, 2.0), checkpoint(runId, 20, 2.0)));
        heartbeat(agent, exited(runId, 0, 1, 137, null));
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(agent).restoreFrom()).isEqualTo(checkpointPath(runId, 20));
        heartbeat(agent, exited(runId, 0, 2, 3, null)); // the restore found a checksum mismatch
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.at("/evidence/corruptCheckpointStep").asLong()).isEqualTo(20);
        assertThat(incident.at("/restoreFrom/step").asLong()).isEqualTo(10);
        assertThat(incident.at("/skippedCheckpoints/0/reason").asString()).contains("corrupt");
        assertThat(incident.at("/decision/consumesBudget").asBoolean()).isFalse();
        stopAll(agents, runId, 2);
        passBackoff(Duration.ofSeconds(2), agents);
        assertThat(assignment(agent).restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        JsonNode checkpoints = call("GET", "/api/v1/runs/" + runId + "/checkpoints", operator, null).body();
        assertThat(checkpoints.at("/0/corrupt").asBoolean()).isTrue();
        assertThat(checkpoints.at("/1/corrupt").asBoolean()).isFalse();
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void aFailedRestoreReportedAfterAPeersExitStillMovesTheRestartToTheOlderCheckpoint() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        UUID runId = submit(rack, 2, 0, Map.of("backoffInitial", "PT1S", "backoffMax", "PT1S"));
        Map<Integer, Agent> byRank = ranks(agents, 1);
        steps(byRank.get(0), runId, 0, 1, healthySteps(1, 20), List.of(checkpoint(runId, 10, 2.0), checkpoint(runId, 20, 2.0)));
        heartbeat(byRank.get(0), exited(runId, 0, 1, 137, null));
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        Map<Integer, Agent> second = ranks(agents, 2);
        assertThat(assignment(second.get(0)).restoreFrom()).isEqualTo(checkpointPath(runId, 20));

        // Data-parallel: rank 1 sees its peer vanish and exits "peer lost" before rank 0's failed restore arrives.
        heartbeat(second.get(1), exited(runId, 1, 2, 5, null));
        scheduling.runOnce(); // the nodes' snapshot now shows the run RECOVERING
        heartbeat(second.get(0), exited(runId, 0, 2, 3, null));
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.at("/evidence/exitCode").asInt()).as("the peer's exit opened it").isEqualTo(5);
        assertThat(incidents(runId)).as("the late exit 3 opens no incident of its own").hasSize(2);
        stopAll(agents, runId, 2);
        passBackoff(Duration.ofSeconds(2), agents);
        assertThat(assignment(ranks(agents, 3).get(0)).restoreFrom()).isEqualTo(checkpointPath(runId, 10));
        incident = incidents(runId).get(0);
        assertThat(incident.at("/restoreFrom/step").asLong()).isEqualTo(10);
        assertThat(incident.at("/skippedCheckpoints/0/step").asLong()).isEqualTo(20);
        assertThat(incident.at("/skippedCheckpoints/0/reason").asString()).contains("corrupt");
        JsonNode checkpoints = call("GET", "/api/v1/runs/" + runId + "/checkpoints", operator, null).body();
        assertThat(checkpoints.at("/0/step").asLong()).isEqualTo(20);
        assertThat(checkpoints.at("/0/corrupt").asBoolean()).isTrue();
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void checkpointsDeletedByRetentionOrWrittenAfterTheOnsetAreNeverRestorePoints() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, Map.of("rollbackMarginSteps", 20, "backoffInitial", "PT1S"));
        ranks(agents, 1);
        CheckpointWritten c150 = checkpoint(runId, 150, 2.0);
        CheckpointWritten deleting = new CheckpointWritten(c150.step(), c150.tokensSeen(), c150.path(),
                c150.lossScale(), c150.loss(), c150.manifestSha256(), c150.bytes(), List.of(100L));
        steps(agent, runId, 0, 1, healthySteps(1, 160), List.of(checkpoint(runId, 50, 2.0), checkpoint(runId, 100, 2.0), deleting));
        steps(agent, runId, 0, 1, List.of(step(161, Double.NaN, 1000)), List.of());
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("DIVERGENCE");
        assertThat(incident.at("/restoreFrom/step").asLong()).as("100 is gone from disk").isEqualTo(50);

        // the trainer wrote 170 before its NaN line was read; its report arrives after the decision
        steps(agent, runId, 0, 1, List.of(), List.of(checkpoint(runId, 170, 2.0)));
        JsonNode checkpoints = call("GET", "/api/v1/runs/" + runId + "/checkpoints", operator, null).body();
        assertThat(checkpoints.findValuesAsString("step")).containsExactly("170", "150", "100", "50");
        assertThat(checkpoints.at("/0/abandoned").asBoolean()).as("written after the onset").isTrue();
        assertThat(checkpoints.at("/2/removed").asBoolean()).isTrue();
        assertThat(checkpoints.at("/3/removed").asBoolean()).isFalse();
        assertThat(checkpoints.at("/3/abandoned").asBoolean()).isFalse();
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void hangIsDetectedByTheClockAndByTheAgentsWatchdog() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, Map.of("hangFloor", "PT30S", "backoffInitial", "PT1S", "backoffMax", "PT1S"));
        ranks(agents, 1);
        assertThat(assignment(agent).hangTimeoutSeconds()).isEqualTo(30);
        steps(agent, runId, 0, 1, List.of(step(1, 3.0, 2000), step(2, 3.0, 2000), step(3, 3.0, 2000)), List.of());
        // the backstop waits the limit (30 s) plus its grace (30 s): the agent's watchdog should act first
        clock.advance(Duration.ofSeconds(59));
        heartbeat(agent, trainer(dev.steadyrun.protocol.TrainerState.RUNNING, runId, 0, 1));
        recovery.watch(clock.instant());
        assertThat(incidents(runId).size()).isZero();
        clock.advance(Duration.ofSeconds(2));
        heartbeat(agent, trainer(dev.steadyrun.protocol.TrainerState.RUNNING, runId, 0, 1));
        recovery.watch(clock.instant());
        JsonNode hang = incidents(runId).get(0);
        assertThat(hang.get("kind").asString()).isEqualTo("HANG");
        assertThat(hang.get("onsetStep").asLong()).isEqualTo(3);
        assertThat(hang.at("/evidence/limitSeconds").asDouble()).isEqualTo(30.0);
        assertThat(hang.at("/evidence/stalledForSeconds").asDouble()).isEqualTo(61.0);
        assertThat(hang.at("/decision/action").asString()).isEqualTo("RESTART_FROM_LATEST");
        // the agent's watchdog, a moment late, still brings its thread dump to that incident
        heartbeat(agent, exited(runId, 0, 1, 137, "Full thread dump OpenJDK: \"main\" WAITING"));
        JsonNode withDump = incidents(runId);
        assertThat(withDump.size()).isEqualTo(1);
        assertThat(withDump.at("/0/evidence/threadDump").asString()).contains("Full thread dump");
        assertThat(withDump.at("/0/evidence/threadDumpUnavailable").isMissingNode()).isTrue();
        assertThat(withDump.at("/0/evidence/exitCode").asInt()).isEqualTo(137);
        stopAll(agents, runId, 1);
        passBackoff(Duration.ofSeconds(1), agents);
        assertThat(assignment(agent).generation()).isEqualTo(2);

        // the agent's watchdog killed a SIGSTOPped trainer and says why it has no thread dump
        heartbeat(agent, exited(runId, 0, 2, 137, "no thread dump: the JVM did not answer (stopped)"));
        JsonNode watchdog = incidents(runId).get(0);
        assertThat(watchdog.get("kind").asString()).isEqualTo("HANG");
        assertThat(watchdog.at("/evidence/threadDumpUnavailable").asString()).contains("stopped");
        assertThat(watchdog.at("/evidence/exitCode").asInt()).isEqualTo(137);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void restartsWithoutProgressFailTheRun() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, Map.of("noProgressRestarts", 2, "backoffInitial", "PT1S", "backoffMax", "PT4S"));
        double failedBefore = sample(prometheus(), BUDGET_EXHAUSTED, "outcome=\"failed\"");
        ranks(agents, 1);
        for (long generation = 1; generation <= 2; generation++) {
            heartbeat(agent, exited(runId, 0, generation, 139, null));
            JsonNode incident = incidents(runId).get(0);
            assertThat(incident.at("/decision/action").asString()).isEqualTo("RESTART_FROM_LATEST");
            // a restart without progress doubles the wait
            assertThat(incident.at("/decision/backoffSeconds").asDouble()).isEqualTo(generation == 1 ? 1.0 : 2.0);
            stopAll(agents, runId, generation);
            passBackoff(Duration.ofSeconds(2), agents);
            assertThat(assignment(agent).generation()).isEqualTo(generation + 1);
        }
        heartbeat(agent, exited(runId, 0, 3, 139, null));
        JsonNode stopped = incidents(runId).get(0);
        assertThat(stopped.get("state").asString()).isEqualTo("STOPPED");
        assertThat(stopped.at("/decision/action").asString()).isEqualTo("STOP_NO_PROGRESS");
        assertThat(awaitState(operator, runId, RunState.FAILED).body().get("stateReason").asString())
                .contains("no progress");
        assertThat(alertEvents("run.restart_budget_exhausted", runId)).isEqualTo(1);
        assertThat(sample(prometheus(), BUDGET_EXHAUSTED, "outcome=\"failed\"")).isEqualTo(failedBefore + 1);
    }

    @Test
    void manualRestartWithChosenCheckpointAndKnobs() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, Map.of());
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 30), List.of(checkpoint(runId, 10, 2.0), checkpoint(runId, 20, 2.0), checkpoint(runId, 30, 2.0)));
        String path = "/api/v1/runs/" + runId + "/restart";
        assertThat(call("POST", path, token("VIEWER"), Map.of()).status()).isEqualTo(403);
        assertThat(call("POST", "/api/v1/runs/" + UUID.randomUUID() + "/restart", operator, Map.of()).status())
                .isEqualTo(404);
        Reply unknown = call("POST", path, operator, Map.of("checkpointStep", 15));
        assertThat(unknown.status()).isEqualTo(422);
        assertThat(unknown.body().get("field").asString()).isEqualTo("checkpointStep");
        Reply badKnob = call("POST", path, operator, Map.of("knobs", Map.of("clipNorm", -1)));
        assertThat(badKnob.status()).isEqualTo(400);
        assertThat(badKnob.body().get("field").asString()).isEqualTo("knobs.clipNorm");

        Reply restart = call("POST", path, operator, Map.of("checkpointStep", 20, "reason", "lowering LR after spike",
                "knobs", Map.of("lrMultiplier", 0.5, "clipNorm", 0.3, "resetLossScaler", true, "skipBatches", 7)));
        assertThat(restart.status()).as(restart.raw().body()).isEqualTo(202);
        assertThat(restart.body().get("kind").asString()).isEqualTo("MANUAL_RESTART");
        assertThat(restart.body().get("cause").asString()).isEqualTo("OPERATOR");
        assertThat(restart.body().at("/restoreFrom/step").asLong()).isEqualTo(20);
        assertThat(restart.body().at("/decision/knobs/skipBatches").asLong()).isEqualTo(7);
        assertThat(restart.body().get("summary").asString()).contains("lowering LR");
        stopAll(agents, runId, 1);
        passBackoff(Duration.ZERO, agents);
        Assignment a = assignment(agent);
        assertThat(a.generation()).isEqualTo(2);
        assertThat(a.restoreFrom()).isEqualTo(checkpointPath(runId, 20));
        assertThat(a.knobs().lrMultiplier()).isEqualTo(0.5);
        assertThat(a.knobs().skipBatches()).isEqualTo(7);
        assertThat(a.knobs().resetLossScaler()).isTrue();

        call("POST", "/api/v1/runs/" + runId + "/pause", operator, null);
        Reply paused = call("POST", path, operator, Map.of());
        assertThat(paused.status()).isEqualTo(409);
        assertThat(paused.raw().headers().firstValue("Content-Type")).hasValueSatisfying(
                t -> assertThat(t).startsWith("application/problem+json"));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    /**
     * An orchestrator restart rebuilds the detectors from the stored steps: a loss spike right after it is judged
     * against the weighted mean of the steps before (a detector started empty would still be warming up: 20 steps).
     */
    @Test
    void aRestartedOrchestratorJudgesTheNextStepWithoutANewWarmUp() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 1);
        Agent agent = agents.get(0);
        UUID runId = submit(rack, 1, 0, Map.of());
        ranks(agents, 1);
        steps(agent, runId, 0, 1, healthySteps(1, 30), List.of(checkpoint(runId, 10, 2.0)));
        watches.rebuild(clock.instant()); // what a new orchestrator process does before serving reports
        assertThat(steps(agent, runId, 0, 1, List.of(step(31, 6.0, 1000)), List.of()).status()).isEqualTo(204);
        JsonNode incident = incidents(runId).get(0);
        assertThat(incident.get("kind").asString()).isEqualTo("DIVERGENCE");
        assertThat(incident.at("/evidence/rule").asString()).isEqualTo("LOSS_SPIKE");
        assertThat(incident.get("onsetStep").asLong()).isEqualTo(31);
        assertThat(incident.at("/evidence/metrics").size()).as("the evidence window, refilled").isEqualTo(20);
        assertThat(incident.at("/evidence/metrics/0/step").asLong()).isEqualTo(12);
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    /** Productive time is rank 0's step time of the steps the restarts kept; wall time runs from the first placement. */
    @Test
    void goodputCountsRankZerosStepsThatARestartKept() {
        String rack = newRack();
        List<Agent> agents = fleet(rack, 2);
        java.time.Instant placed = clock.instant();
        UUID runId = submit(rack, 2, 0, Map.of());
        Map<Integer, Agent> gen1 = ranks(agents, 1);
        steps(gen1.get(0), runId, 0, 1, healthySteps(1, 20), List.of(checkpoint(runId, 10, 2.0)));
        List<StepMetrics> slowRank1 = new ArrayList<>();
        for (long s = 1; s <= 20; s++) {
            slowRank1.add(step(s, 3.0, 3000));
        }
        steps(gen1.get(1), runId, 1, 1, slowRank1, List.of());
        Reply restart = call("POST", "/api/v1/runs/" + runId + "/restart", operator, Map.of("checkpointStep", 10));
        assertThat(restart.status()).as(restart.raw().body()).isEqualTo(202);
        stopAll(agents, runId, 1);
        passBackoff(Duration.ZERO, agents);
        Map<Integer, Agent> gen2 = ranks(agents, 2);
        steps(gen2.get(0), runId, 0, 2, healthySteps(11, 15), List.of());
        clock.advance(Duration.ofSeconds(100).minus(Duration.between(placed, clock.instant())));
        // steps 1-10 of generation 1 and 11-15 of generation 2, 1 s each, over 100 s; steps 11-20 of generation 1
        // were thrown away by the restart and rank 1's step times do not count
        assertThat(run(runId).get("goodput").asDouble()).isCloseTo(0.15, org.assertj.core.data.Offset.offset(1e-9));
        call("POST", "/api/v1/runs/" + runId + "/cancel", operator, null);
    }

    @Test
    void badRecoveryPolicyIsRefusedAtSubmission() {
        String rack = newRack();
        fleet(rack, 1);
        var spec = new java.util.LinkedHashMap<>(tinyRun(rack, 1, 0));
        spec.put("recoveryPolicy", Map.of("divergenceLadder", List.of(Map.of("lrMultiplier", 2.0))));
        Reply refused = call("POST", "/api/v1/runs", operator, spec);
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.body().get("field").asString()).isEqualTo("recoveryPolicy.divergenceLadder[0].lrMultiplier");
    }
}
